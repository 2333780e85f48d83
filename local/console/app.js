// The local Step Functions console (served by local/console/routes.ts). Plain ES module, no framework:
// the executions list with filters and search, one execution's graph (laid out by ELK from the machine's ASL)
// with each state's input, output, error and retries, its parent and child runs, and a start form.

const app = document.getElementById('app');
const view = document.body.dataset.view;
const arg = document.body.dataset.arg;
const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED'];

// ---------- helpers ----------

/** el('div', {class: 'x', onclick: fn}, child, 'text', …) */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  fill(node, children, false);
  return node;
}

/** Replaces (or appends to) a node's children with nested arrays of nodes and strings; null/false are skipped. */
function fill(node, children, replace = true) {
  const list = [children].flat(Number.POSITIVE_INFINITY).filter((c) => c !== null && c !== undefined && c !== false);
  if (replace) node.replaceChildren(...list);
  else node.append(...list);
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) node.append(c);
  return node;
}

async function api(path, init) {
  const res = await fetch(path, init);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(body.message ?? `${res.status}`), { body, status: res.status });
  return body;
}

const executionUrl = (arn) => `/console/executions/${encodeURIComponent(arn)}`;
const shortName = (arn) => arn.split(':').at(-1);

function badge(status) {
  return el('span', { class: `badge s-${status.toLowerCase()}` }, status.charAt(0) + status.slice(1).toLowerCase());
}

function duration(start, stop) {
  const ms = (stop ? Date.parse(stop) : Date.now()) - Date.parse(start);
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function when(iso) {
  const d = new Date(iso);
  const ago = (Date.now() - d.getTime()) / 1000;
  const rel =
    ago < 60
      ? `${Math.max(0, Math.round(ago))} s ago`
      : ago < 3600
        ? `${Math.round(ago / 60)} min ago`
        : d.toLocaleString();
  return el('time', { datetime: iso, title: d.toLocaleString() }, rel);
}

/** JSON, pretty-printed and coloured (text nodes only: nothing is parsed as HTML). */
function jsonBlock(value, label) {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  const pre = el('pre', { class: 'json', tabindex: '0', 'aria-label': label });
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    pre.append(text.slice(last, m.index));
    const cls = m[1] ? (m[2] ? 'k' : 's') : m[3] ? 'b' : 'n';
    pre.append(el('span', { class: cls }, m[1] ?? m[0]));
    if (m[2]) pre.append(m[2]);
    last = m.index + m[0].length;
  }
  pre.append(text.slice(last));
  const copy = el(
    'button',
    {
      type: 'button',
      class: 'ghost small',
      onclick: async (e) => {
        await navigator.clipboard?.writeText(text).catch(() => undefined);
        e.target.textContent = 'Copied';
        setTimeout(() => {
          e.target.textContent = 'Copy';
        }, 1200);
      },
    },
    'Copy',
  );
  return el('div', { class: 'payload' }, el('div', { class: 'payload-head' }, el('h4', {}, label), copy), pre);
}

// ---------- start form ----------

let machinesCache;
async function machines() {
  machinesCache ??= api('/console/api/machines').then((b) => b.machines);
  return machinesCache;
}

async function openStart(preset = {}) {
  const list = await machines();
  const dialog = el('dialog', { class: 'start', 'aria-labelledby': 'start-title' });
  const machineSelect = el(
    'select',
    { id: 'start-machine', name: 'stateMachine' },
    list.map((m) => el('option', { value: m.id, selected: m.id === preset.stateMachine }, m.id)),
  );
  const sampleSelect = el('select', { id: 'start-sample' });
  const input = el('textarea', { id: 'start-input', name: 'input', rows: '14', spellcheck: 'false' });
  const name = el('input', {
    id: 'start-name',
    name: 'name',
    placeholder: 'generated when empty',
    autocomplete: 'off',
  });
  const error = el('p', { class: 'error', role: 'alert' });
  let samples = [];
  const loadSamples = async () => {
    samples = (await api(`/console/api/machines/${encodeURIComponent(machineSelect.value)}/samples`)).samples;
    sampleSelect.replaceChildren(
      ...(samples.length
        ? samples.map((s, i) => el('option', { value: String(i) }, s.file))
        : [el('option', { value: '' }, `no files in events/${machineSelect.value}/`)]),
    );
    sampleSelect.disabled = samples.length === 0;
    if (!preset.input || preset.stateMachine !== machineSelect.value) {
      input.value = JSON.stringify(samples[0]?.input ?? {}, null, 2);
    }
  };
  machineSelect.addEventListener('change', () => {
    preset = {};
    void loadSamples();
  });
  sampleSelect.addEventListener('change', () => {
    input.value = JSON.stringify(samples[Number(sampleSelect.value)]?.input ?? {}, null, 2);
  });
  const form = el(
    'form',
    {
      method: 'dialog',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        let value;
        try {
          value = JSON.parse(input.value || '{}');
        } catch (err) {
          error.textContent = `Input is not valid JSON: ${err.message}`;
          return;
        }
        try {
          const body = { stateMachine: machineSelect.value, input: value };
          if (name.value.trim()) body.name = name.value.trim();
          const { executionArn } = await api('/executions', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          location.href = executionUrl(executionArn);
        } catch (err) {
          error.textContent = `${err.body?.error ?? 'Error'}: ${err.message}`;
        }
      },
    },
    el('h2', { id: 'start-title' }, 'Start execution'),
    el('label', { for: 'start-machine' }, 'State machine'),
    machineSelect,
    el('label', { for: 'start-sample' }, 'Sample input ', el('span', { class: 'muted' }, '(events/<machine>/*.json)')),
    sampleSelect,
    el('label', { for: 'start-input' }, 'Input (JSON)'),
    input,
    el('label', { for: 'start-name' }, 'Name ', el('span', { class: 'muted' }, '(optional)')),
    name,
    error,
    el(
      'div',
      { class: 'actions' },
      el('button', { type: 'button', class: 'ghost', onclick: () => dialog.close() }, 'Cancel'),
      el('button', { type: 'submit', class: 'primary' }, 'Start'),
    ),
  );
  dialog.append(form);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  await loadSamples();
  if (preset.input !== undefined) input.value = JSON.stringify(preset.input, null, 2);
  dialog.showModal();
  machineSelect.focus();
}

let startPreset = {};
document.getElementById('open-start').addEventListener('click', () => void openStart(startPreset));

// ---------- executions list ----------

async function listView() {
  const params = new URLSearchParams(location.search);
  const state = {
    machine: params.get('stateMachine') ?? '',
    status: params.get('status') ?? '',
    q: params.get('q') ?? '',
  };
  const sidebar = el('nav', { class: 'machines', 'aria-label': 'State machines' });
  const statusBar = el('div', { class: 'segmented', role: 'group', 'aria-label': 'Status' });
  const search = el('input', {
    id: 'search',
    type: 'search',
    placeholder: 'Name, ARN, error or input text',
    value: state.q,
    autocomplete: 'off',
  });
  const tbody = el('tbody');
  const summary = el('p', { class: 'muted count' });
  app.replaceChildren(
    el(
      'div',
      { class: 'list-layout' },
      sidebar,
      el(
        'section',
        { class: 'card' },
        el(
          'div',
          { class: 'toolbar' },
          el('h1', {}, 'Executions'),
          statusBar,
          el('label', { for: 'search', class: 'visually-hidden' }, 'Search executions'),
          search,
        ),
        el(
          'table',
          { class: 'runs' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ['Name', 'State machine', 'Status', 'Started', 'Duration', 'Started by'].map((h) =>
                el('th', { scope: 'col' }, h),
              ),
            ),
          ),
          tbody,
        ),
        summary,
      ),
    ),
  );
  startPreset = state.machine ? { stateMachine: state.machine } : {};

  let all = [];
  let rows = [];
  const sync = () => {
    const p = new URLSearchParams();
    if (state.machine) p.set('stateMachine', state.machine);
    if (state.status) p.set('status', state.status);
    if (state.q) p.set('q', state.q);
    history.replaceState(null, '', `/console${p.size ? `?${p}` : ''}`);
    startPreset = state.machine ? { stateMachine: state.machine } : {};
  };
  const render = () => {
    const counts = new Map();
    for (const r of all) counts.set(r.stateMachine, (counts.get(r.stateMachine) ?? 0) + 1);
    const machineButton = (id, label, count) =>
      el(
        'button',
        {
          type: 'button',
          class: `machine${state.machine === id ? ' active' : ''}`,
          'aria-pressed': String(state.machine === id),
          onclick: () => {
            state.machine = id;
            sync();
            void refresh();
          },
        },
        el('span', {}, label),
        el('span', { class: 'count-pill' }, String(count)),
      );
    void machines().then((ms) => {
      sidebar.replaceChildren(
        el('h2', {}, 'State machines'),
        machineButton('', 'All', all.length),
        ...ms.map((m) => machineButton(m.id, m.id, counts.get(m.id) ?? 0)),
      );
    });
    const inMachine = all.filter((r) => !state.machine || r.stateMachine === state.machine);
    statusBar.replaceChildren(
      ...['', ...STATUSES].map((s) =>
        el(
          'button',
          {
            type: 'button',
            class: state.status === s ? 'active' : '',
            'aria-pressed': String(state.status === s),
            onclick: () => {
              state.status = s;
              sync();
              void refresh();
            },
          },
          s ? s.charAt(0) + s.slice(1).toLowerCase() : 'All',
          el('span', { class: 'n' }, String(s ? inMachine.filter((r) => r.status === s).length : inMachine.length)),
        ),
      ),
    );
    tbody.replaceChildren(
      ...(rows.length
        ? rows.map((r) =>
            el(
              'tr',
              {},
              el('td', {}, el('a', { href: executionUrl(r.executionArn), class: 'mono' }, r.executionId)),
              el('td', {}, r.stateMachine),
              el('td', {}, badge(r.status)),
              el('td', {}, when(r.startDate)),
              el('td', { class: 'num' }, duration(r.startDate, r.stopDate)),
              el(
                'td',
                {},
                r.parentExecutionArn
                  ? el(
                      'a',
                      { href: executionUrl(r.parentExecutionArn), title: r.parentExecutionArn },
                      `${r.parentState ?? 'parent'} ↗`,
                    )
                  : el('span', { class: 'muted' }, '—'),
              ),
            ),
          )
        : [
            el(
              'tr',
              {},
              el('td', { colspan: '6', class: 'empty' }, 'No executions match. Start one with the button above.'),
            ),
          ]),
    );
    summary.textContent = `${rows.length} shown of ${all.length} executions kept`;
  };
  const refresh = async () => {
    const p = new URLSearchParams({ limit: '1000' });
    if (state.machine) p.set('stateMachine', state.machine);
    if (state.status) p.set('status', state.status);
    if (state.q) p.set('q', state.q);
    [all, rows] = await Promise.all([
      api('/executions?limit=1000').then((b) => b.executions),
      api(`/executions?${p}`).then((b) => b.executions),
    ]);
    render();
  };
  let debounce;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.q = search.value.trim();
      sync();
      void refresh();
    }, 200);
  });
  await refresh();
  setInterval(() => {
    if (document.visibilityState === 'visible') void refresh();
  }, 3000);
}

// ---------- one execution ----------

/** Per state: its runs (one per Map iteration or re-entry) with input, output, error, retries; and an outcome. */
function stateRuns(events) {
  const runs = new Map();
  const open = new Map();
  for (const e of events) {
    if (!e.state || e.type.startsWith('MapIteration') || e.type.startsWith('ParallelBranch')) continue;
    const key = `${e.state}#${e.index ?? ''}`;
    if (e.type === 'StateEntered') {
      const run = { index: e.index, entered: e.timestamp, input: e.input, inputDetails: e.inputDetails, retries: [] };
      if (!runs.has(e.state)) runs.set(e.state, []);
      runs.get(e.state).push(run);
      open.set(key, run);
      continue;
    }
    const run = open.get(key);
    if (!run) continue;
    if (e.type === 'StateExited') {
      Object.assign(run, { exited: e.timestamp, output: e.output, outputDetails: e.outputDetails });
    } else if (e.type === 'StateFailed') {
      Object.assign(run, { failed: e.timestamp, error: e.error, cause: e.cause });
    } else if (e.type === 'StateRetried') {
      run.retries.push({ attempt: e.attempt, at: e.timestamp, error: run.error, cause: run.cause });
      run.failed = undefined;
      run.error = undefined;
      run.cause = undefined;
    } else if (e.type === 'StateCaught') {
      run.caught = e.timestamp;
    }
  }
  return runs;
}

function outcome(runs, executionStatus) {
  if (!runs?.length) return 'notrun';
  if (runs.some((r) => !r.exited && !r.failed)) return executionStatus === 'RUNNING' ? 'running' : 'failed';
  if (runs.some((r) => r.failed && !r.caught)) return 'failed';
  if (runs.some((r) => r.caught)) return 'caught';
  return 'succeeded';
}

const OUTCOME_LABEL = {
  succeeded: 'Succeeded',
  failed: 'Failed',
  caught: 'Caught',
  running: 'In progress',
  notrun: 'Not run',
};

/** The ASL as an ELK graph: states are nodes, Map/Parallel are compound nodes, transitions are edges. */
function toElk(definition) {
  const info = new Map();
  const size = (name, type) => ({
    width: Math.max(132, Math.round(Math.max(name.length * 7.6, type.length * 6.2) + 64)),
    height: 48,
  });
  const scope = (states, startAt, top) => {
    const children = [];
    const edges = [];
    const edge = (from, to, kind) =>
      edges.push({ id: `e${info.size}-${edges.length}-${from}-${to}`, sources: [from], targets: [to], kind });
    if (top) {
      children.push({ id: '__start', width: 56, height: 28, label: 'Start' });
      children.push({ id: '__end', width: 56, height: 28, label: 'End' });
      edge('__start', startAt, 'next');
    }
    for (const [name, s] of Object.entries(states)) {
      info.set(name, s);
      const node = { id: name, ...size(name, s.Type) };
      const processor = s.ItemProcessor ?? s.Iterator;
      if (s.Type === 'Map' && processor?.States) {
        Object.assign(node, scope(processor.States, processor.StartAt, false));
        node.compound = true;
      } else if (s.Type === 'Parallel' && Array.isArray(s.Branches)) {
        node.compound = true;
        node.children = s.Branches.map((b, i) => ({
          id: `${name}__branch${i}`,
          branch: i + 1,
          ...scope(b.States, b.StartAt, false),
          layoutOptions: compoundOptions(22),
        }));
        node.edges = [];
      }
      if (node.compound) {
        delete node.width;
        delete node.height;
        node.layoutOptions = compoundOptions(40);
      }
      children.push(node);
      if (s.Next) edge(name, s.Next, 'next');
      if (s.Default) edge(name, s.Default, 'next');
      for (const c of s.Choices ?? []) if (c.Next) edge(name, c.Next, 'choice');
      for (const c of s.Catch ?? []) if (c.Next) edge(name, c.Next, 'catch');
      if (top && (s.End || s.Type === 'Succeed' || s.Type === 'Fail')) edge(name, '__end', 'next');
    }
    return { children, edges };
  };
  const compoundOptions = (topPad) => ({
    'elk.algorithm': 'layered',
    'elk.direction': 'DOWN',
    'elk.padding': `[top=${topPad},left=16,bottom=16,right=16]`,
    'elk.spacing.nodeNode': '24',
    'elk.layered.spacing.nodeNodeBetweenLayers': '30',
  });
  const graph = {
    id: 'root',
    layoutOptions: { ...compoundOptions(12), 'elk.padding': '[top=12,left=12,bottom=12,right=12]' },
    ...scope(definition.States, definition.StartAt, true),
  };
  return { graph, info };
}

async function drawGraph(container, definition, onSelect) {
  const { graph, info } = toElk(definition);
  const layout = await new globalThis.ELK().layout(graph);
  const root = svg('svg', {
    viewBox: `0 0 ${layout.width} ${layout.height}`,
    width: layout.width,
    height: layout.height,
    role: 'group',
    'aria-label': 'State machine graph',
    class: 'graph',
  });
  root.append(
    svg(
      'defs',
      {},
      svg(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: '9',
          refY: '5',
          markerWidth: '7',
          markerHeight: '7',
          orient: 'auto',
        },
        svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }),
      ),
    ),
  );
  const nodes = new Map();
  const drawScope = (scopeNode, parent) => {
    for (const e of scopeNode.edges ?? []) {
      for (const s of e.sections ?? []) {
        const pts = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint];
        parent.append(
          svg('path', {
            d: pts.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' '),
            class: `edge ${e.kind}`,
            'marker-end': 'url(#arrow)',
          }),
        );
      }
    }
    for (const n of scopeNode.children ?? []) {
      const g = svg('g', { transform: `translate(${n.x},${n.y})` });
      parent.append(g);
      if (n.id === '__start' || n.id === '__end') {
        g.append(
          svg('rect', { width: n.width, height: n.height, rx: n.height / 2, class: 'terminal' }),
          svg(
            'text',
            { x: n.width / 2, y: n.height / 2 + 4, 'text-anchor': 'middle', class: 'terminal-label' },
            n.label,
          ),
        );
        continue;
      }
      if (n.branch) {
        g.append(
          svg('rect', { width: n.width, height: n.height, rx: 8, class: 'branch' }),
          svg('text', { x: 10, y: 15, class: 'branch-label' }, `Branch ${n.branch}`),
        );
        drawScope(n, g);
        continue;
      }
      const s = info.get(n.id);
      g.setAttribute('class', `state ${n.compound ? 'compound' : ''}`);
      g.setAttribute('role', 'button');
      g.setAttribute('tabindex', '0');
      g.dataset.state = n.id;
      const title = svg('title', {}, `${n.id} (${s.Type})`);
      const rect = svg('rect', { width: n.width, height: n.height, rx: 8, class: 'box' });
      const name = svg('text', { x: 12, y: 20, class: 'name' }, n.id);
      const type = svg('text', { x: 12, y: 36, class: 'type' }, s.Type + (n.compound ? '' : ''));
      if (n.compound) {
        name.setAttribute('y', '18');
        type.setAttribute('y', '32');
      } else {
        name.setAttribute('x', String(n.width / 2));
        name.setAttribute('text-anchor', 'middle');
        type.setAttribute('x', String(n.width / 2));
        type.setAttribute('text-anchor', 'middle');
      }
      const count = svg('text', { x: n.width - 8, y: n.height - 8, 'text-anchor': 'end', class: 'count' });
      g.append(title, rect, name, type, count);
      const select = () => onSelect(n.id);
      g.addEventListener('click', (e) => {
        e.stopPropagation();
        select();
      });
      g.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          e.stopPropagation();
          select();
        }
      });
      nodes.set(n.id, { g, count });
      if (n.compound) drawScope(n, g);
    }
  };
  drawScope(layout, root);
  container.replaceChildren(root);
  return { nodes, info };
}

async function executionView() {
  let record = await api(`/executions/${encodeURIComponent(arg)}`);
  const machine = (await machines()).find((m) => m.id === record.stateMachine);
  let selected = null;
  let selectedRun = 0;
  let children = [];
  let runs = new Map();

  const header = el('div', { class: 'run-head card' });
  const graphBox = el('div', { class: 'graph-box', 'aria-label': 'Graph' });
  const panel = el('aside', { class: 'panel card', 'aria-label': 'Details', 'aria-live': 'polite' });
  const childBox = el('section', { class: 'card' });
  const eventsBox = el('section', { class: 'card' });
  const legend = el(
    'div',
    { class: 'legend', 'aria-hidden': 'true' },
    Object.entries(OUTCOME_LABEL).map(([k, v]) => el('span', { class: `key o-${k}` }, v)),
  );
  app.replaceChildren(
    header,
    el('div', { class: 'run-layout' }, el('section', { class: 'card graph-card' }, legend, graphBox), panel),
    childBox,
    eventsBox,
  );
  startPreset = { stateMachine: record.stateMachine, input: record.input };

  const { nodes, info } = await drawGraph(graphBox, machine.definition, (name) => {
    selected = name;
    selectedRun = 0;
    renderPanel();
    for (const [n, { g }] of nodes) g.classList.toggle('selected', n === name);
    // On a narrow screen the details sit under the graph: bring them into view.
    if (matchMedia('(max-width: 960px)').matches) panel.scrollIntoView({ behavior: 'smooth', block: 'start' });
  });
  graphBox.addEventListener('click', () => {
    selected = null;
    for (const { g } of nodes.values()) g.classList.remove('selected');
    renderPanel();
  });

  const renderHeader = () => {
    header.replaceChildren(
      el(
        'nav',
        { class: 'crumbs', 'aria-label': 'Breadcrumb' },
        el('a', { href: '/console' }, 'Executions'),
        ' / ',
        el('a', { href: `/console?stateMachine=${encodeURIComponent(record.stateMachine)}` }, record.stateMachine),
        ' / ',
        el('span', { class: 'mono' }, record.executionId),
      ),
      el('div', { class: 'title-row' }, el('h1', { class: 'mono' }, record.executionId), badge(record.status)),
      el(
        'dl',
        { class: 'facts' },
        el('div', {}, el('dt', {}, 'State machine'), el('dd', {}, `${record.stateMachine} (${record.type})`)),
        el('div', {}, el('dt', {}, 'Started'), el('dd', {}, when(record.startDate))),
        el('div', {}, el('dt', {}, 'Duration'), el('dd', {}, duration(record.startDate, record.stopDate))),
        el(
          'div',
          {},
          el('dt', {}, 'Started by'),
          el(
            'dd',
            {},
            record.parentExecutionArn
              ? el(
                  'a',
                  { href: executionUrl(record.parentExecutionArn), class: 'parent-link' },
                  `${record.parentState ?? 'task'} in ${shortName(record.parentExecutionArn)}`,
                )
              : 'an event or a request',
          ),
        ),
        el(
          'div',
          { class: 'wide' },
          el('dt', {}, 'Execution ARN'),
          el('dd', { class: 'mono small' }, record.executionArn),
        ),
      ),
    );
  };

  const childLinks = (list) =>
    el(
      'ul',
      { class: 'children' },
      list.map((c) =>
        el(
          'li',
          {},
          badge(c.status),
          el('a', { href: executionUrl(c.executionArn), class: 'child-link' }, `${c.stateMachine} · ${c.executionId}`),
          el('span', { class: 'muted' }, ` from ${c.parentState ?? '?'}, ${duration(c.startDate, c.stopDate)}`),
        ),
      ),
    );

  const renderPanel = () => {
    if (!selected) {
      fill(panel, [
        el('h2', {}, 'Execution'),
        el('p', { class: 'muted' }, 'Select a state in the graph to see its input, output, error and retries.'),
        record.error
          ? el('div', { class: 'error-box' }, el('strong', {}, record.error), el('p', {}, record.cause))
          : null,
        jsonBlock(record.input, 'Execution input'),
        record.status === 'SUCCEEDED' ? jsonBlock(record.output, 'Execution output') : null,
      ]);
      return;
    }
    const s = info.get(selected);
    const list = runs.get(selected) ?? [];
    const run = list[Math.min(selectedRun, list.length - 1)];
    const mine = children.filter((c) => c.parentState === selected);
    const o = outcome(list, record.status);
    fill(panel, [
      el('h2', {}, selected),
      el(
        'p',
        { class: 'state-meta' },
        el('span', { class: `key o-${o}` }, OUTCOME_LABEL[o]),
        el('span', { class: 'muted' }, ` ${s.Type}`),
        s.Resource?.['Fn::GetAtt'] ? el('span', { class: 'muted' }, ` · λ ${s.Resource['Fn::GetAtt'][0]}`) : null,
      ),
      s.Comment ? el('p', { class: 'comment' }, s.Comment) : null,
      mine.length ? [el('h4', {}, `Executions it started (${mine.length})`), childLinks(mine)] : null,
      list.length > 1
        ? el(
            'div',
            { class: 'segmented runs-picker', role: 'group', 'aria-label': 'Iteration' },
            list.map((r, i) =>
              el(
                'button',
                {
                  type: 'button',
                  class: i === selectedRun ? 'active' : '',
                  'aria-pressed': String(i === selectedRun),
                  onclick: () => {
                    selectedRun = i;
                    renderPanel();
                  },
                },
                r.index !== undefined ? `Item ${r.index}` : `Run ${i + 1}`,
              ),
            ),
          )
        : null,
      run
        ? [
            el(
              'p',
              { class: 'muted small' },
              `Entered ${new Date(run.entered).toLocaleTimeString()}`,
              run.exited || run.failed ? ` · took ${duration(run.entered, run.exited ?? run.failed)}` : ' · running',
            ),
            run.error
              ? el(
                  'div',
                  { class: 'error-box' },
                  el('strong', {}, run.error, run.caught ? ' (caught)' : ''),
                  el('p', {}, run.cause ?? ''),
                )
              : null,
            run.retries.length
              ? el(
                  'div',
                  { class: 'retries' },
                  el('h4', {}, `Retries (${run.retries.length})`),
                  el(
                    'ol',
                    {},
                    run.retries.map((r) =>
                      el(
                        'li',
                        {},
                        `attempt ${r.attempt} at ${new Date(r.at).toLocaleTimeString()}`,
                        r.error ? el('span', { class: 'muted' }, ` after ${r.error}`) : null,
                      ),
                    ),
                  ),
                )
              : null,
            jsonBlock(run.input, run.inputDetails?.truncated ? 'Input (cut at 256 KB)' : 'Input'),
            run.exited
              ? jsonBlock(run.output, run.outputDetails?.truncated ? 'Output (cut at 256 KB)' : 'Output')
              : null,
          ]
        : el('p', { class: 'muted' }, 'This state has not run in this execution.'),
      el('details', {}, el('summary', {}, 'Definition'), jsonBlock(s, 'ASL')),
    ]);
  };

  const renderChildren = () => {
    childBox.replaceChildren(
      el('h2', {}, `Child executions (${children.length})`),
      children.length ? childLinks(children) : el('p', { class: 'muted' }, 'This run started no other execution.'),
    );
  };

  // A Map over thousands of items makes a long history: the first rows, then the rest on request.
  let allEvents = false;
  const EVENT_ROWS = 500;
  const renderEvents = () => {
    const t0 = Date.parse(record.startDate);
    const shown = allEvents ? record.events : record.events.slice(0, EVENT_ROWS);
    const hidden = record.events.length - shown.length;
    eventsBox.replaceChildren(
      el('h2', {}, `Event history (${record.events.length})`),
      el(
        'table',
        { class: 'events' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ['#', 'Type', 'State', 'Item', 'Elapsed'].map((h) => el('th', { scope: 'col' }, h)),
          ),
        ),
        el(
          'tbody',
          {},
          shown.map((e) =>
            el(
              'tr',
              { class: /Failed/.test(e.type) ? 'bad' : '' },
              el('td', { class: 'num' }, String(e.id)),
              el('td', {}, e.type, e.error ? el('span', { class: 'muted' }, ` ${e.error}`) : null),
              el(
                'td',
                {},
                e.state && info.has(e.state)
                  ? el(
                      'button',
                      {
                        type: 'button',
                        class: 'link',
                        onclick: () => {
                          nodes.get(e.state)?.g.dispatchEvent(new MouseEvent('click', { bubbles: true }));
                          graphBox.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
                        },
                      },
                      e.state,
                    )
                  : (e.state ?? ''),
              ),
              el('td', { class: 'num' }, e.index ?? ''),
              el('td', { class: 'num' }, `${Date.parse(e.timestamp) - t0} ms`),
            ),
          ),
        ),
      ),
      hidden > 0
        ? el(
            'button',
            {
              type: 'button',
              class: 'ghost more',
              onclick: () => {
                allEvents = true;
                renderEvents();
              },
            },
            `Show the other ${hidden} events`,
          )
        : '',
    );
  };

  const paint = () => {
    runs = stateRuns(record.events);
    for (const [name, { g, count }] of nodes) {
      const list = runs.get(name) ?? [];
      const o = outcome(list, record.status);
      g.setAttribute(
        'class',
        `state ${g.classList.contains('compound') ? 'compound ' : ''}o-${o}${name === selected ? ' selected' : ''}`,
      );
      g.setAttribute('aria-label', `${name}: ${OUTCOME_LABEL[o]}${list.length > 1 ? `, ${list.length} runs` : ''}`);
      count.textContent = list.length > 1 ? `×${list.length}` : '';
    }
  };

  const refresh = async () => {
    children = (
      await api(`/executions?limit=1000&parentExecutionArn=${encodeURIComponent(record.executionArn)}`)
    ).executions.reverse();
    renderHeader();
    paint();
    renderPanel();
    renderChildren();
    renderEvents();
  };
  await refresh();
  // Live updates while the run is RUNNING (and a moment after, for its children's last writes).
  const poll = setInterval(async () => {
    const wasRunning = record.status === 'RUNNING';
    record = await api(`/executions/${encodeURIComponent(record.executionArn)}`);
    await refresh();
    if (!wasRunning && record.status !== 'RUNNING') clearInterval(poll);
  }, 1000);
  if (record.status !== 'RUNNING') clearInterval(poll);
}

// ---------- boot ----------

async function boot() {
  try {
    if (view === 'list') await listView();
    else if (view === 'execution') await executionView();
    else
      app.replaceChildren(
        el(
          'section',
          { class: 'card' },
          el('h1', {}, 'No such execution'),
          el('a', { href: '/console' }, 'All executions'),
        ),
      );
  } catch (err) {
    app.replaceChildren(
      el('section', { class: 'card error-box' }, el('strong', {}, 'The console failed'), el('p', {}, err.message)),
    );
    console.error(err);
  }
}
void boot();
