import { seededRandom } from '../functions/shared/seeded-random.js';

/**
 * A deterministic generator of realistic-looking operations documents for the benchmarks: markdown
 * reports of one fictional company site each, one `##` section per topic, prose built from sentence
 * templates over a varied vocabulary with numbers, dates and names. A section stays under the chunker's
 * 350-token bound, so a document of N sections makes about N chunks. The same vocabulary builds the
 * benchmark questions, so queries land near some chunks and far from most, as with a real corpus.
 */

/** The same seed always gives the same corpus. */
export { seededRandom };

type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const between = (random: Random, low: number, high: number): number => low + Math.floor(random() * (high - low + 1));

const DOMAINS = {
  logistics: {
    systems: ['sorting conveyor', 'cross-dock scheduler', 'pallet scanner', 'route planner', 'cold-chain monitor'],
    things: ['parcels', 'pallets', 'shipments', 'trailers', 'returns', 'manifests'],
    metrics: ['on-time delivery rate', 'dock-to-stock time', 'pick accuracy', 'trailer utilisation', 'damage rate'],
  },
  manufacturing: {
    systems: ['injection moulding line', 'paint booth', 'torque station', 'CNC cell', 'quality camera'],
    things: ['housings', 'gearboxes', 'brackets', 'weld seams', 'batches', 'work orders'],
    metrics: ['first-pass yield', 'scrap rate', 'cycle time', 'overall equipment effectiveness', 'changeover time'],
  },
  energy: {
    systems: [
      'battery storage array',
      'substation relay',
      'wind turbine pitch controller',
      'solar inverter',
      'heat pump',
    ],
    things: ['megawatt-hours', 'feeder circuits', 'inverters', 'transformers', 'meter readings'],
    metrics: ['capacity factor', 'round-trip efficiency', 'outage minutes', 'peak demand', 'curtailment'],
  },
  healthcare: {
    systems: ['patient intake portal', 'lab analyser', 'pharmacy dispensing cabinet', 'telemetry ward monitor'],
    things: ['referrals', 'specimens', 'prescriptions', 'appointments', 'discharge summaries'],
    metrics: ['median wait time', 'readmission rate', 'specimen turnaround', 'bed occupancy', 'no-show rate'],
  },
  software: {
    systems: ['billing service', 'search cluster', 'message queue', 'identity provider', 'feature flag service'],
    things: ['requests', 'deployments', 'pull requests', 'incidents', 'database migrations', 'alerts'],
    metrics: ['p99 latency', 'error budget burn', 'deployment frequency', 'mean time to recovery', 'cache hit ratio'],
  },
  agriculture: {
    systems: ['irrigation controller', 'grain dryer', 'soil moisture network', 'greenhouse climate system'],
    things: ['hectares', 'tonnes of wheat', 'seedlings', 'sensor readings', 'harvest lots'],
    metrics: ['yield per hectare', 'water use', 'moisture content', 'germination rate', 'spoilage'],
  },
} as const;

type Domain = (typeof DOMAINS)[keyof typeof DOMAINS];

const SITES = [
  'Denver',
  'Rotterdam',
  'Osaka',
  'Monterrey',
  'Leipzig',
  'Pune',
  'Bristol',
  'Calgary',
  'Lyon',
  'Valencia',
  'Gdansk',
  'Adelaide',
  'Nairobi',
  'Porto',
  'Tampere',
  'Tucson',
];
const COMPANIES = ['Northwind', 'Halcyon Works', 'Bluefield', 'Kestrel Systems', 'Marlowe & Sons', 'Ondine Labs'];
const PEOPLE = [
  'Priya Raman',
  'Tomasz Nowak',
  'Aisha Bello',
  'Lena Fischer',
  'Diego Alvarez',
  'Mei Chen',
  'Samuel Okafor',
  'Hannah Lindqvist',
  'Ravi Iyer',
  'Claire Dubois',
  'Kenji Watanabe',
  'Fatima Haddad',
];
const ROLES = ['site lead', 'reliability engineer', 'shift supervisor', 'operations analyst', 'safety officer'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October'];
const CAUSES = [
  'a firmware regression',
  'a misconfigured threshold',
  'supplier delays',
  'a failed cooling fan',
  'an expired certificate',
  'unplanned staff absence',
  'a power dip on the east feeder',
  'a software update applied outside the window',
  'heavy rain and flooding on the access road',
  'a calibration drift in the sensors',
];
const ACTIONS = [
  'replaced the worn parts',
  'rolled back the change',
  'added a second on-call engineer',
  'rewrote the runbook',
  'moved the job to the night shift',
  'tightened the alert thresholds',
  'ordered spare units from a second supplier',
  'scheduled weekly audits',
  'trained the new operators',
  'automated the manual check',
];
const SECTION_TOPICS = [
  'Weekly summary',
  'Incident review',
  'Maintenance log',
  'Capacity planning',
  'Safety observations',
  'Budget and spending',
  'Staffing and training',
  'Supplier performance',
  'Quality findings',
  'Customer escalations',
  'Project milestones',
  'Audit results',
];

const SENTENCES: readonly ((r: Random, d: Domain, site: string) => string)[] = [
  (r, d, site) =>
    `The ${pick(r, d.metrics)} at ${site} reached ${between(r, 2, 98)}.${between(r, 0, 9)} percent in ${pick(r, MONTHS)}, up from ${between(r, 2, 98)} percent a year earlier.`,
  (r, d) =>
    `The ${pick(r, d.systems)} processed ${between(r, 1, 900).toLocaleString('en-US')} ${pick(r, d.things)} per hour during the peak window.`,
  (r, d) =>
    `${pick(r, PEOPLE)}, the ${pick(r, ROLES)}, reported that the ${pick(r, d.systems)} stopped for ${between(r, 3, 95)} minutes because of ${pick(r, CAUSES)}.`,
  (r) => `To prevent a repeat, the team ${pick(r, ACTIONS)} and ${pick(r, ACTIONS)}.`,
  (r, d) =>
    `Maintenance on the ${pick(r, d.systems)} is due every ${between(r, 2, 26)} weeks, and the next window is ${pick(r, MONTHS)} ${between(r, 1, 28)}.`,
  (r, d, site) =>
    `${site} handled ${between(r, 10, 99)},${String(between(r, 0, 999)).padStart(3, '0')} ${pick(r, d.things)} this quarter, which is ${between(r, 2, 40)} percent more than planned.`,
  (r, d) =>
    `The target for ${pick(r, d.metrics)} remains ${between(r, 50, 99)} percent, and the review board meets on the ${pick(r, ['first', 'second', 'third', 'last'])} Tuesday of each month.`,
  (r) =>
    `Spending came to $${between(r, 12, 980)},${String(between(r, 0, 999)).padStart(3, '0')} against a budget of $${between(r, 12, 980)},000, mostly on ${pick(r, ['spare parts', 'overtime', 'contractors', 'licences', 'freight', 'training courses'])}.`,
  (r, _d, site) =>
    `${pick(r, COMPANIES)} supplied the ${site} site under contract ${pick(r, ['C', 'K', 'P', 'R'])}-${between(r, 1000, 9999)}, with a lead time of ${between(r, 2, 60)} days.`,
  (r, d) =>
    `An audit in ${pick(r, MONTHS)} ${between(r, 2019, 2025)} found ${between(r, 0, 14)} open findings on the ${pick(r, d.systems)}, of which ${between(r, 0, 5)} were rated high.`,
  (r) =>
    `${pick(r, PEOPLE)} asked every shift to log near misses in the safety tracker within ${between(r, 1, 48)} hours.`,
  (r, d) =>
    `Operators noted that ${pick(r, d.things)} queued behind the ${pick(r, d.systems)} whenever ${pick(r, CAUSES)} coincided with the morning peak.`,
  (r, d, site) =>
    `Compared with ${pick(
      r,
      SITES.filter((s) => s !== site),
    )}, the ${pick(r, d.metrics)} here is ${pick(r, ['higher', 'lower', 'about the same', 'more volatile'])}, largely because of ${pick(r, CAUSES)}.`,
  (r) =>
    `${between(r, 2, 30)} new operators completed the ${between(r, 2, 12)}-day induction, and ${between(r, 1, 9)} more start in ${pick(r, MONTHS)}.`,
  (r, d) =>
    `The forecast assumes ${between(r, 3, 25)} percent growth in ${pick(r, d.things)} next year and no change to the ${pick(r, d.systems)}.`,
  (r) =>
    `Customer complaints fell to ${between(r, 1, 60)} this month; the most common topic was ${pick(r, ['late delivery', 'billing errors', 'damaged goods', 'slow support replies', 'missing paperwork'])}.`,
];

/** One generated markdown document with about `sections` chunks. */
export interface GeneratedDocument {
  key: string;
  body: string;
}

/** Builds document number `index` of the generated corpus (deterministic for a given seed and index). */
export function generateDocument(index: number, sections: number, seed = 42): GeneratedDocument {
  const r = seededRandom(seed * 100_003 + index);
  const domainName = pick(r, Object.keys(DOMAINS) as (keyof typeof DOMAINS)[]);
  const domain: Domain = DOMAINS[domainName];
  const site = pick(r, SITES);
  const year = between(r, 2019, 2025);
  const lines = [`# ${site} ${domainName} operations report ${year}`, ''];
  for (let s = 0; s < sections; s++) {
    lines.push(`## ${pick(r, SECTION_TOPICS)}: ${pick(r, domain.systems)} (${pick(r, MONTHS)} ${year})`, '');
    const paragraphs = between(r, 2, 3);
    for (let p = 0; p < paragraphs; p++) {
      const count = between(r, 3, 4);
      lines.push(Array.from({ length: count }, () => pick(r, SENTENCES)(r, domain, site)).join(' '), '');
    }
  }
  return { key: `generated/${domainName}/report-${String(index).padStart(5, '0')}.md`, body: lines.join('\n') };
}

const QUESTIONS: readonly ((r: Random, d: Domain, site: string) => string)[] = [
  (r, d, site) => `What was the ${pick(r, d.metrics)} at ${site} in ${pick(r, MONTHS)}?`,
  (r, d) => `Why did the ${pick(r, d.systems)} stop, and for how long?`,
  (r, d) => `How often is maintenance due on the ${pick(r, d.systems)}?`,
  (r, d, site) => `How many ${pick(r, d.things)} did ${site} handle this quarter?`,
  () => `Who asked shifts to log near misses in the safety tracker?`,
  (_r, _d, site) => `Which supplier has a contract with the ${site} site and what is the lead time?`,
  (r, d) => `How many open audit findings were there on the ${pick(r, d.systems)}?`,
  (r) => `What did the team do after ${pick(r, CAUSES)}?`,
  (r, d) => `What growth in ${pick(r, d.things)} does the forecast assume?`,
  (r) => `How much was spent on ${pick(r, ['spare parts', 'overtime', 'contractors', 'licences', 'freight'])}?`,
];

/** Builds `count` realistic questions over the generated corpus's vocabulary (deterministic). */
export function generateQuestions(count: number, seed = 7): string[] {
  const r = seededRandom(seed);
  const domains = Object.values(DOMAINS);
  return Array.from({ length: count }, () => pick(r, QUESTIONS)(r, pick(r, domains), pick(r, SITES)));
}

/**
 * Builds `count` benchmark queries, alternating a question with a sentence taken from a held-out
 * document (one never indexed), so half ask and half paraphrase content the way users paste it.
 */
export function generateQueries(count: number, seed = 7): string[] {
  const questions = generateQuestions(Math.ceil(count / 2), seed);
  const sentences: string[] = [];
  for (let index = 1_000_000; sentences.length < Math.floor(count / 2); index++) {
    const prose = generateDocument(index, 1, seed)
      .body.split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const paragraph of prose) sentences.push(...paragraph.split(/(?<=\.) /).slice(0, 1));
  }
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0 ? (questions[i / 2] as string) : (sentences[(i - 1) / 2] as string),
  );
}
