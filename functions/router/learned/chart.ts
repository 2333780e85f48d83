/**
 * A small hand-written SVG line chart of cost share (x) against quality kept (y), for router:calibrate.
 */
export interface ChartSeries {
  name: string;
  color: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

export interface ChartMarker {
  label: string;
  x: number;
  y: number;
  color: string;
}

const W = 640;
const H = 420;
const PAD = { left: 60, right: 20, top: 30, bottom: 50 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Renders the curves with axes from 0–100% cost share and the y range given, a horizontal target line and markers. */
export function costQualityChart(options: {
  title: string;
  series: ChartSeries[];
  markers: ChartMarker[];
  targetKept?: number;
  yMin?: number;
}): string {
  const yMin = options.yMin ?? 0.7;
  const yMax = 1.05;
  const px = (x: number) => PAD.left + Math.max(0, Math.min(1, x)) * (W - PAD.left - PAD.right);
  const py = (y: number) => {
    const t = (Math.max(yMin, Math.min(yMax, y)) - yMin) / (yMax - yMin);
    return H - PAD.bottom - t * (H - PAD.top - PAD.bottom);
  };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11" role="img">`,
    `<title>${esc(options.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(options.title)}</text>`,
  ];
  for (let i = 0; i <= 10; i++) {
    const x = px(i / 10);
    out.push(`<line x1="${x}" y1="${py(yMin)}" x2="${x}" y2="${py(yMax)}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${H - PAD.bottom + 15}" text-anchor="middle">${i * 10}%</text>`);
  }
  for (let y = Math.ceil(yMin * 20) / 20; y <= yMax + 1e-9; y += 0.05) {
    out.push(`<line x1="${px(0)}" y1="${py(y)}" x2="${px(1)}" y2="${py(y)}" stroke="#eee"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${py(y) + 4}" text-anchor="end">${Math.round(y * 100)}%</text>`);
  }
  out.push(
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">cost (share of always-strong)</text>`,
    `<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">quality kept (accuracy ÷ always-strong)</text>`,
  );
  if (options.targetKept !== undefined) {
    out.push(
      `<line x1="${px(0)}" y1="${py(options.targetKept)}" x2="${px(1)}" y2="${py(options.targetKept)}" stroke="#999" stroke-dasharray="2 3"/>`,
      `<text x="${px(1) - 4}" y="${py(options.targetKept) - 4}" text-anchor="end" fill="#666">target ${(options.targetKept * 100).toFixed(1)}%</text>`,
    );
  }
  options.series.forEach((s, i) => {
    const d = [...s.points]
      .sort((a, b) => a.x - b.x)
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`)
      .join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    const ly = PAD.top + 14 + i * 15;
    out.push(
      `<line x1="${px(0.55)}" y1="${ly - 4}" x2="${px(0.6)}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${px(0.61)}" y="${ly}">${esc(s.name)}</text>`,
    );
  });
  for (const m of options.markers) {
    out.push(
      `<circle cx="${px(m.x)}" cy="${py(m.y)}" r="5" fill="${m.color}" stroke="black"/>`,
      `<text x="${px(m.x) + 8}" y="${py(m.y) + 14}">${esc(m.label)}</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
