/**
 * Memory benchmark: prompt tokens per chat turn over a long synthetic support conversation, sending the whole
 * history every turn (what the article's "$50,000 chat history" team did) versus sending the user's fact profile
 * (what POST /v1/chat does: the chat-system prompt with the facts block, bounded by CHAT_PROFILE_MAX_TOKENS).
 * Deterministic and offline: no model is called, only the project's tokenizer, prompt and profile selection.
 * Usage: npx tsx bench/memory.ts [--turns N]   (N ≥ 300, default 320)
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { renderFactsBlock } from '../functions/memory/fact-safety.js';
import { loadPrompt, renderDefinition } from '../functions/prompts/registry.js';
import { modelCatalog } from '../functions/router/catalog.js';
import type { Fact } from '../functions/shared/ports.js';
import { countTokens } from '../functions/shared/tokens.js';
import { seededRandom } from './generated-corpus.js';
import { table } from './report.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
const { CHAT_PROMPT_ID, chatSettings, selectProfile } = await import('../functions/memory/chat/chat.js');

const { values } = parseArgs({ options: { turns: { type: 'string', default: '320' } } });
const TURNS = Number(values.turns);
if (!Number.isInteger(TURNS) || TURNS < 300) throw new Error('--turns must be an integer of at least 300');
const REPORT_AT = [10, 50, 100, 200, 300, TURNS].filter((t, i, all) => t <= TURNS && all.indexOf(t) === i);
const USER_ID = 'user-dana';
const START = Date.parse('2026-01-05T08:00:00Z');
const HOUR = 3_600_000;
const print = (line = '') => process.stdout.write(`${line}\n`);

// ---- a deterministic conversation ------------------------------------------------------------------------------

// the same seed always gives the same conversation, so every run prints the same figures
const random = seededRandom(20260327);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const fill = (template: string) =>
  template.replace(/\{(\w+)\}/g, (_, slot: string) => pick(SLOTS[slot] ?? [`{${slot}}`]));

const SLOTS: Record<string, readonly string[]> = {
  dashboard: ['Shipments', 'Carrier performance', 'Warehouse throughput', 'On-time delivery', 'Fleet costs', 'Returns'],
  field: ['delivery date', 'carrier', 'origin depot', 'route id', 'customer tier', 'weight class', 'SLA breach flag'],
  period: ['last 7 days', 'last quarter', 'month to date', 'the previous fiscal year', 'the last 30 days'],
  format: ['CSV', 'Excel', 'Parquet', 'PDF'],
  teammate: ['Jonas', 'Priya', 'Marek', 'Aisha', 'Tom', 'Lena'],
  n: ['3', '5', '12', '20', '48', '250'],
  chart: ['bar chart', 'line chart', 'heat map', 'pivot table', 'scatter plot'],
  integration: ['Snowflake', 'BigQuery', 'Slack', 'Salesforce', 'S3', 'Postgres'],
};

/** Filler topics: a user question and the assistant's answer, each from templates over the slots above. */
const TOPICS: readonly { asks: readonly string[]; answers: readonly string[] }[] = [
  {
    asks: [
      'How do I add a filter on {field} to the {dashboard} dashboard?',
      'Can I filter the {dashboard} dashboard by {field} and keep it for everyone on my team?',
    ],
    answers: [
      'Open the {dashboard} dashboard, click Filters in the top bar and choose {field}. Pick the values you need, then use Save view and set it to shared so your team sees the same filter. Saved views keep the filter but not the date range unless you pin it.',
      'Filters live in the panel on the left. Add {field}, choose the operator and the values, and press Apply. To make it the default for the team, open the view menu, choose Save as team default, and confirm; people who already customised the dashboard keep their own version.',
    ],
  },
  {
    asks: [
      'What is the fastest way to export {period} of data from {dashboard} as {format}?',
      'I need {period} from the {dashboard} dashboard in {format} for a meeting. How?',
    ],
    answers: [
      'Set the date range to {period}, open the export menu in the top-right corner and choose {format}. Exports up to 100,000 rows download immediately; larger ones are emailed as a link that stays valid for 24 hours.',
      'Use Export, then {format}, after setting the range. If the file is large the export runs in the background and you get a notification when it is ready. Column order follows the table view, so arrange the columns first if the layout matters.',
    ],
  },
  {
    asks: [
      'How do I share the {dashboard} dashboard with {teammate} without giving edit rights?',
      'Can {teammate} see my {dashboard} dashboard but not change it?',
    ],
    answers: [
      'Click Share, type {teammate}, and choose Viewer as the role. Viewers can filter and export but cannot change widgets or saved views. You can revoke access from the same dialog at any time.',
      'Yes: share it with the Viewer role. {teammate} will get an email with the link. If your workspace enforces SSO, {teammate} must sign in with the company account before the dashboard opens.',
    ],
  },
  {
    asks: [
      'Is there a way to schedule a {format} report of {dashboard} every week?',
      'Can I get {dashboard} emailed as {format} to {n} people every Monday?',
    ],
    answers: [
      'Yes. Open the dashboard, choose Schedule from the export menu, pick weekly, the day and the time, add the recipients and the format. Schedules run in the workspace time zone, and each recipient gets the file as an attachment up to 10 MB, or a link above that.',
      'Schedules are under Export, then Schedule delivery. Add up to 50 recipients, choose {format} and the time. The first delivery goes out at the next scheduled time; use Send now to check the result straight away.',
    ],
  },
  {
    asks: [
      'How do I connect {integration} as a data source?',
      'We want to pull data from {integration}. What permissions does the connector need?',
    ],
    answers: [
      'Go to Settings, Data sources, Add source and choose {integration}. The connector needs read access to the schemas you want to sync; a dedicated service account is recommended. The first sync copies the tables you select, later syncs are incremental every hour by default.',
      'The {integration} connector only needs read permissions on the tables you select, plus permission to list schemas. Create a service account for it, paste the credentials in the connection form, and run Test connection before the first sync.',
    ],
  },
  {
    asks: [
      'Why does the {dashboard} dashboard show different totals than my {format} export?',
      'The numbers in {dashboard} do not match what I exported for {period}. Which one is right?',
    ],
    answers: [
      'Usually the difference is the time zone or a filter. Dashboards aggregate in the workspace time zone while exports use UTC timestamps, so rows near midnight can fall on a different day. Check also whether the dashboard excludes cancelled shipments, which exports keep unless you filter them out.',
      'Both are right for what they count. The dashboard deduplicates shipments that were re-routed, while the raw export lists every leg. Add the route id column to the export and group by shipment id to reproduce the dashboard total.',
    ],
  },
  {
    asks: [
      'Can I build a {chart} of {field} over {period}?',
      'How do I turn the {field} column into a {chart} on the {dashboard} dashboard?',
    ],
    answers: [
      'Add a widget, choose {chart}, and pick {field} as the dimension and the measure you want, for example shipment count. Set the date range to {period} in the widget settings if it should differ from the dashboard range.',
      'Edit the dashboard, click Add widget and select {chart}. Drag {field} to the dimension slot and a measure to the value slot. Widgets inherit the dashboard filters unless you switch that off in the widget options.',
    ],
  },
  {
    asks: [
      'How do I create an API key for scripts that read the {dashboard} data?',
      'What are the rate limits of the API when I pull {n} thousand rows?',
    ],
    answers: [
      'Create a key under Settings, API keys, with the read-only scope. Keys inherit the permissions of the user who creates them, so a service user is better for shared scripts. The API allows 600 requests per minute per workspace, and each page returns up to 1,000 rows.',
      'The limit is 600 requests per minute per workspace with pages of up to 1,000 rows, so {n} thousand rows take {n} requests. Use the cursor in each response to page, and retry with backoff on HTTP 429.',
    ],
  },
  {
    asks: [
      'Can I set an alert when {field} crosses a threshold on {dashboard}?',
      'I want a Slack message when more than {n} shipments breach the SLA. Possible?',
    ],
    answers: [
      'Yes: open the widget menu and choose Create alert. Set the condition, the check frequency and where to send it: email, Slack or a webhook. Alerts evaluate on the latest data sync, so hourly syncs mean at most an hour of delay.',
      'Alerts support thresholds on any measure. Pick the measure, the threshold of {n}, and Slack as the channel after connecting the Slack integration under Settings. You can mute an alert for a period without deleting it.',
    ],
  },
  {
    asks: ['Thanks, that worked.', 'Perfect, thank you!', 'Got it, that fixed it.', 'Great, that is what I needed.'],
    answers: [
      'Glad it worked. Let me know if anything else comes up.',
      'You are welcome. If you want, I can also show you how to save this as a template for next time.',
    ],
  },
];

interface Reveal {
  attribute: string;
  value: string;
  confidence: number;
  ask: string;
  answer: string;
}

/**
 * What the user reveals, and when: facts come from chat (the cheap model's extraction, capped at 0.8
 * confidence) or from app events (SettingsChanged, ErrorOccurred, UserLoggedIn, PageViewed: rules, higher
 * confidence). Later entries change earlier preferences, role, plan, time zone and project.
 */
const REVEALS: Readonly<Record<number, readonly Reveal[]>> = {
  1: [
    {
      attribute: 'profile.name',
      value: 'Dana Okafor',
      confidence: 0.8,
      ask: "Hi! I'm Dana Okafor, I just got access to the workspace. Where should I start?",
      answer:
        'Welcome, Dana! A good start is the Getting started checklist on the home page: connect a data source, open one of the template dashboards, and invite your team. Tell me what you want to build first and I can point you to the right place.',
    },
  ],
  2: [
    {
      attribute: 'profile.company',
      value: 'Northwind Freight',
      confidence: 0.8,
      ask: 'We are Northwind Freight, a mid-sized logistics company, and I am setting up the account for our analytics team.',
      answer:
        'Great. For a logistics company the Shipments and Carrier performance templates are the usual starting points. Set up the workspace time zone and your data source first, since both affect every dashboard.',
    },
  ],
  4: [
    {
      attribute: 'profile.role',
      value: 'data engineer',
      confidence: 0.8,
      ask: 'I am a data engineer, so I mostly care about the pipelines and the API rather than the charts.',
      answer:
        'Understood. Then the parts you will use most are the data source connectors, the sync schedule and the API. The API reference is under Docs, API, and every dashboard query can be reproduced through it.',
    },
  ],
  9: [
    {
      attribute: 'preference.timezone',
      value: 'Europe/Berlin',
      confidence: 1,
      ask: 'I changed my time zone to Berlin in the settings. Will scheduled reports follow it?',
      answer:
        'Schedules use the workspace time zone, not your personal one. Your personal time zone changes how timestamps are shown to you. If the whole team is in Berlin, set the workspace time zone too.',
    },
  ],
  16: [
    {
      attribute: 'preference.theme',
      value: 'dark',
      confidence: 1,
      ask: 'I switched to dark mode. Is there a way to make the charts use darker colours too?',
      answer:
        'Yes: in dark mode the default palette adapts automatically. Custom colours you set on a widget stay as they are, so reset them to the palette if they look too bright.',
    },
  ],
  23: [
    {
      attribute: 'preference.code_language',
      value: 'Python',
      confidence: 0.8,
      ask: 'I will script most of this in Python, so please give me Python examples when there is code.',
      answer:
        'Will do. The official Python client is on PyPI; it handles paging and retries for you, and every API example in the docs has a Python tab.',
    },
  ],
  31: [
    {
      attribute: 'context.current_project',
      value: 'Project Heron',
      confidence: 1,
      ask: 'Our project is called Heron, it is the new customer churn dashboard. Can I group dashboards by project?',
      answer:
        'Yes, use folders: create a Heron folder and move the dashboards in. Folder permissions apply to everything inside, which is handy when the project team changes.',
    },
  ],
  38: [
    {
      attribute: 'recent_problem.http_500',
      value: 'Export failed with HTTP 500 (on /dashboards/shipments)',
      confidence: 0.9,
      ask: 'The CSV export of the Shipments dashboard fails with an error 500. What is going on?',
      answer:
        'An HTTP 500 on export usually means the export hit a timeout on a very large result. Try a shorter date range, or use a scheduled export, which runs in the background. If it keeps failing, send me the time of the failure and I will check the logs.',
    },
  ],
  47: [
    {
      attribute: 'account.plan',
      value: 'Team',
      confidence: 1,
      ask: 'We are on the Team plan. Does it include scheduled exports and the API?',
      answer:
        'The Team plan includes both, with up to 20 schedules and the standard API rate limit. SSO and audit logs come with the Business plan.',
    },
  ],
  58: [
    {
      attribute: 'preference.answer_style',
      value: 'short answers, code first',
      confidence: 0.8,
      ask: 'Could you keep answers short from now on? Code first, explanation after, if needed.',
      answer: 'Sure, short answers with the code first.',
    },
  ],
  73: [
    {
      attribute: 'preference.notifications',
      value: 'weekly email digest',
      confidence: 1,
      ask: 'I set notifications to a weekly digest because the daily emails were too much.',
      answer:
        'Good choice. Alerts you create still arrive immediately; only the activity summary moves to the weekly digest.',
    },
  ],
  96: [
    {
      attribute: 'skill.snowflake',
      value: 'Snowflake',
      confidence: 0.8,
      ask: 'Our warehouse is Snowflake. Is the Snowflake connector incremental?',
      answer:
        'Yes. It uses a timestamp or an increasing id column per table to sync only new and changed rows. Pick the column in the table settings; without one the table is copied in full each time.',
    },
  ],
  110: [
    {
      attribute: 'goal.churn_dashboard',
      value: 'build a customer churn dashboard for the operations team',
      confidence: 0.8,
      ask: 'The goal for Heron is a churn dashboard the operations team can use without us. Any tips?',
      answer:
        'Keep the first version to a few measures the team already trusts, add descriptions to each widget, and share it with the Viewer role so nobody breaks it by accident.',
    },
  ],
  130: [
    {
      attribute: 'interest.api',
      value: '/docs/api/exports',
      confidence: 0.6,
      ask: 'I was reading the exports API docs. Is there an endpoint that streams large exports?',
      answer:
        'Yes, the export jobs endpoint: start a job, poll its status, then download the file from the returned link. It avoids the timeout of synchronous exports.',
    },
  ],
  161: [
    {
      attribute: 'preference.theme',
      value: 'light',
      confidence: 1,
      ask: 'I went back to light mode, dark mode was unreadable on the projector in our meeting room.',
      answer: 'Makes sense. Your dashboards will switch to the light palette automatically.',
    },
  ],
  188: [
    {
      attribute: 'profile.role',
      value: 'lead data engineer',
      confidence: 0.8,
      ask: 'Small news: I am now the lead data engineer, so I will be managing the workspace permissions too.',
      answer:
        'Congratulations! For permissions, groups are the easiest to manage: create one per team, give the group a role on each folder, and add or remove people from the group.',
    },
  ],
  215: [
    {
      attribute: 'account.plan',
      value: 'Business',
      confidence: 1,
      ask: 'We upgraded to the Business plan. How do I turn on SSO?',
      answer:
        'Under Settings, Security, Single sign-on: add your identity provider metadata, test the login with one account, then enforce SSO for the workspace.',
    },
  ],
  231: [
    {
      attribute: 'preference.timezone',
      value: 'America/New_York',
      confidence: 1,
      ask: 'I moved to our New York office and updated my time zone. Do I need to change anything else?',
      answer:
        'Only if you own schedules that should follow you: they run in the workspace time zone. Your personal time zone change already applies to how times are shown to you.',
    },
  ],
  252: [
    {
      attribute: 'preference.code_language',
      value: 'TypeScript',
      confidence: 0.8,
      ask: 'The team moved our scripts to TypeScript, so please use TypeScript for examples from now on.',
      answer: 'Noted: TypeScript from now on. The JavaScript client ships type definitions, so it works as is.',
    },
  ],
  287: [
    {
      attribute: 'context.current_project',
      value: 'Project Osprey',
      confidence: 1,
      ask: 'Heron is done! We are starting Project Osprey, a delivery time forecast. Can I copy the Heron folder as a start?',
      answer:
        'Yes: open the folder menu and choose Duplicate. Dashboards and saved views are copied; schedules and alerts are not, so recreate the ones you need.',
    },
  ],
};

/** Turns where the export error happens again (ErrorOccurred confirms the fact and refreshes its observation). */
const RECURRING_PROBLEM = new Set([39, 84, 85, 141, 206, 271, 272]);
/** Logins re-observe the current project (UserLoggedIn appState), which keeps it from expiring. */
const LOGIN_EVERY = 12;

const memoryRules = parse(readFileSync(join('config', 'memory-rules.yaml'), 'utf8')) as {
  attributes: { name: string; ttlDays?: number }[];
};

/** ttlDays per attribute (exact or family) from config/memory-rules.yaml, as the fact store applies them. */
function ttlDaysOf(attribute: string): number | undefined {
  const spec = memoryRules.attributes.find(
    (a) => a.name === attribute || (a.name.endsWith('.*') && attribute.startsWith(a.name.slice(0, -1))),
  );
  return spec?.ttlDays;
}

interface Turn {
  at: number;
  user: string;
  assistant: string;
  /** Facts the events of this turn assert (extracted asynchronously: they reach the profile from the next turn). */
  facts: { attribute: string; value: string; confidence: number }[];
}

function conversation(): Turn[] {
  const turns: Turn[] = [];
  for (let n = 1; n <= TURNS; n++) {
    const at = START + n * 9 * HOUR + Math.floor(random() * 3 * HOUR);
    const reveals = REVEALS[n];
    if (reveals) {
      const [first] = reveals as [Reveal];
      turns.push({ at, user: first.ask, assistant: first.answer, facts: reveals.map(({ ask, answer, ...f }) => f) });
    } else if (RECURRING_PROBLEM.has(n)) {
      turns.push({
        at,
        user: fill('The {format} export of the Shipments dashboard failed again with a 500, this time for {period}.'),
        assistant:
          'Sorry about that. I can see the export job timing out on our side. Splitting the range into smaller parts works around it, and the export jobs API is not affected by the timeout. I have added your case to the open incident.',
        facts: [
          {
            attribute: 'recent_problem.http_500',
            value: 'Export failed with HTTP 500 (on /dashboards/shipments)',
            confidence: 0.9,
          },
        ],
      });
    } else {
      const topic = pick(TOPICS);
      turns.push({ at, user: fill(pick(topic.asks)), assistant: fill(pick(topic.answers)), facts: [] });
    }
    const turn = turns.at(-1) as Turn;
    if (n % LOGIN_EVERY === 0 && n >= 31) {
      const project = n >= 287 ? 'Project Osprey' : 'Project Heron';
      turn.facts.push({ attribute: 'context.current_project', value: project, confidence: 1 });
    }
  }
  return turns;
}

/** The fact store's view before turn `index` (0-based): latest value per attribute, expired facts hidden. */
function factsBefore(turns: readonly Turn[], index: number): Fact[] {
  const byAttribute = new Map<string, Fact>();
  for (let i = 0; i < index; i++) {
    const turn = turns[i] as Turn;
    for (const f of turn.facts) {
      const observedAt = new Date(turn.at).toISOString();
      const ttl = ttlDaysOf(f.attribute);
      const old = byAttribute.get(f.attribute);
      const same = old?.value === f.value;
      byAttribute.set(f.attribute, {
        userId: USER_ID,
        ...f,
        sourceEventId: `evt-${i + 1}`,
        observedAt,
        ...(ttl === undefined ? {} : { expiresAt: Math.floor(turn.at / 1000) + ttl * 86_400 }),
        sourceEventIds: same ? [...(old?.sourceEventIds ?? []), `evt-${i + 1}`] : [`evt-${i + 1}`],
        history:
          old && !same ? [{ value: old.value, observedAt: old.observedAt, sourceEventId: old.sourceEventId }] : [],
        updatedAt: observedAt,
        revision: (old?.revision ?? 0) + 1,
      });
    }
  }
  const now = Math.floor((turns[index] as Turn).at / 1000);
  return [...byAttribute.values()].filter((f) => f.expiresAt === undefined || f.expiresAt > now);
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

// ---- measure ----------------------------------------------------------------------------------------------------

const settings = chatSettings();
const prompt = loadPrompt(CHAT_PROMPT_ID);
const turns = conversation();
const emptySystem = renderDefinition(prompt, { facts: renderFactsBlock([]), message: 'x' }).system;
const emptySystemTokens = countTokens(emptySystem);
const userTokens = turns.map((t) => countTokens(t.user));
const assistantTokens = turns.map((t) => countTokens(t.assistant));

interface Row {
  turn: number;
  full: number;
  profile: number;
  block: number;
  known: number;
  used: number;
}

const rows: Row[] = [];
let history = 0;
for (const [i, turn] of turns.entries()) {
  const known = factsBefore(turns, i);
  const profile = selectProfile(known, settings.profileMaxTokens);
  const system = renderDefinition(prompt, { facts: profile.block, message: turn.user }).system;
  rows.push({
    turn: i + 1,
    full: emptySystemTokens + history + (userTokens[i] as number),
    profile: countTokens(system) + (userTokens[i] as number),
    block: profile.tokens,
    known: known.length,
    used: profile.facts.length,
  });
  history += (userTokens[i] as number) + (assistantTokens[i] as number);
}

// ---- report -----------------------------------------------------------------------------------------------------

const pct = (full: number, profile: number) => `${((1 - profile / full) * 100).toFixed(1)}%`;
const fmt = (n: number) => n.toLocaleString('en-US');
const cpu = cpus();

print('composable-ai memory benchmark: prompt tokens per chat turn, full history vs fact profile');
print(`command:  npx tsx bench/memory.ts${TURNS === 320 ? '' : ` --turns ${TURNS}`}`);
print(`date:     ${new Date().toISOString()}`);
print(`node:     ${process.version} (${process.platform} ${process.arch})`);
print(`cpu:      ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM`);
print('tokens:   cl100k_base (functions/shared/tokens.ts), message text only (no per-message role framing)');
print(
  `prompt:   ${prompt.id} v${prompt.version}: ${emptySystemTokens} tokens of system prompt with an empty facts block`,
);
print(
  `profile:  CHAT_PROFILE_MAX_TOKENS=${settings.profileMaxTokens} (selectProfile: confidence, then recency; block measured whole)`,
);
const statements = Object.values(REVEALS).flat();
const attributes = new Set(statements.map((r) => r.attribute));
const days = Math.round(((turns.at(-1) as Turn).at - START) / 86_400_000);
print(`dialogue: ${TURNS} turns of a data engineer with a logistics analytics app's assistant over ${days} days;`);
print(
  `          user messages ${(sum(userTokens) / TURNS).toFixed(0)} tokens and replies ${(sum(assistantTokens) / TURNS).toFixed(0)} tokens on average (short: real replies are often longer);`,
);
print(
  `          ${statements.length} fact statements about ${attributes.size} attributes (name, company, role, time zone, theme, code language,`,
);
print(
  `          project, plan, answer style, notifications, warehouse, goal, API interest; ${statements.length - attributes.size} later changes),`,
);
print(`          an export error that recurs ${RECURRING_PROBLEM.size} times, a login every ${LOGIN_EVERY} turns`);
print();
print('Full history = system prompt + every previous user message and reply + the message.');
print('Fact profile = system prompt with the facts block (facts known before the turn) + the message.');
print();
const at = REPORT_AT.map((t) => rows[t - 1] as Row);
print(
  table(
    ['turn', 'full history', 'fact profile', 'reduction', 'facts block', 'facts used/known'],
    at.map((r) => [
      String(r.turn),
      fmt(r.full),
      fmt(r.profile),
      pct(r.full, r.profile),
      `${r.block} tok`,
      `${r.used}/${r.known}`,
    ]),
  ),
);
print();
const first300 = rows.slice(0, 300);
const totalFull = sum(first300.map((r) => r.full));
const totalProfile = sum(first300.map((r) => r.profile));
print(
  `Turns 1-300 in total: ${fmt(totalFull)} prompt tokens with full history, ${fmt(totalProfile)} with the profile (${pct(totalFull, totalProfile)} fewer).`,
);
const catalog = modelCatalog();
for (const tier of [catalog.defaultTier, catalog.topTier]) {
  const model = catalog.modelFor(tier);
  const usd = (tokens: number) => `$${((tokens * model.inputPricePerMTok) / 1e6).toFixed(3)}`;
  print(
    `  input cost per user on ${model.id} ($${model.inputPricePerMTok}/1M): ${usd(totalFull)} vs ${usd(totalProfile)}`,
  );
}
const maxBlock = Math.max(...rows.map((r) => r.block));
const maxProfile = Math.max(...rows.map((r) => r.profile - (userTokens[r.turn - 1] as number)));
print(
  `Profile size bound: the facts block never exceeded ${maxBlock} tokens (budget ${settings.profileMaxTokens}); system prompt + block ≤ ${maxProfile} tokens on every turn,`,
);
print('  so the profile prompt is flat in the length of the conversation while the full history grows linearly.');
print();
print('The budget decides how many facts fit (each JSON line is about 30-40 tokens) at turn 300:');
const known300 = factsBefore(turns, 299);
const row300 = rows[299] as Row;
print(
  table(
    ['CHAT_PROFILE_MAX_TOKENS', 'facts block', 'facts used/known', 'prompt tokens', 'reduction vs full'],
    [150, 300, 600, 1200].map((budget) => {
      const p = selectProfile(known300, budget);
      const tokens = countTokens(renderDefinition(prompt, { facts: p.block, message: turns[299]?.user ?? '' }).system);
      const total = tokens + (userTokens[299] as number);
      return [
        String(budget),
        `${p.tokens} tok`,
        `${p.facts.length}/${known300.length}`,
        fmt(total),
        pct(row300.full, total),
      ];
    }),
  ),
);
print();
const finalProfile = selectProfile(factsBefore(turns, TURNS - 1), settings.profileMaxTokens);
const usedAttributes = new Set(finalProfile.facts.map((f) => f.attribute));
const leftOut = factsBefore(turns, TURNS - 1)
  .filter((f) => !usedAttributes.has(f.attribute))
  .map((f) => `${f.attribute} (${f.confidence})`);
print(
  `The profile at turn ${TURNS} (${finalProfile.tokens} tokens); left out by the budget: ${leftOut.join(', ') || 'none'}`,
);
print(finalProfile.block);
