// A small hand-drawn SVG line chart: one series over time, gaps where a bucket had no runs.
// No library, no canvas: it scales with the page, prints, and every point has a <title>.

const SVG = "http://www.w3.org/2000/svg";

export interface ChartPoint {
  label: string;
  /** null: nothing to plot for this bucket (no runs) */
  value: number | null;
  /** the point's tooltip */
  detail: string;
}

export interface ChartOptions {
  title: string;
  description: string;
  yFormat: (value: number) => string;
  /** fixed top of the y axis (100 for percentages); otherwise fitted to the data */
  yMax?: number;
  /** the least top of a fitted axis, so an empty or tiny series still gets a readable scale */
  minTop?: number;
  colorClass: string;
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** 1, 2 or 5 times a power of ten, at least max/4, so four gridlines cover the data. */
function niceStep(max: number): number {
  const raw = max / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

export function renderLineChart(
  container: HTMLElement,
  points: ChartPoint[],
  options: ChartOptions,
): void {
  // Drawn at the container's own width, so 12px text stays 12px on a phone.
  const width = Math.max(280, Math.round(container.clientWidth || 640));
  const height = width < 480 ? 200 : 240;
  const pad = { left: 64, right: 12, top: 12, bottom: 32 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const values = points.map((p) => p.value).filter((v): v is number => v !== null);
  const dataMax = values.length ? Math.max(...values) : 0;
  const step = options.yMax !== undefined ? options.yMax / 4 : niceStep(Math.max(dataMax, options.minTop ?? 1));
  const yMax = options.yMax ?? step * Math.max(1, Math.ceil(dataMax / step));

  const titleId = `${container.id}-svg-title`;
  const descId = `${container.id}-svg-desc`;
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: `chart-svg ${options.colorClass}`,
    role: "img",
    "aria-labelledby": `${titleId} ${descId}`,
    preserveAspectRatio: "xMidYMid meet",
  });
  root.append(svg("title", { id: titleId }, options.title));
  root.append(svg("desc", { id: descId }, options.description));

  const x = (i: number) =>
    pad.left + (points.length <= 1 ? plotW / 2 : (i * plotW) / (points.length - 1));
  const y = (v: number) => pad.top + plotH - (v / yMax) * plotH;

  // gridlines and y labels
  for (let v = 0; v <= yMax + step / 2; v += step) {
    root.append(
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid" }),
    );
    root.append(
      svg("text", { x: pad.left - 8, y: y(v) + 4, "text-anchor": "end", class: "axis" }, options.yFormat(v)),
    );
  }
  // x labels: as many as fit (about 90px each), always the first and the last
  const every = Math.max(1, Math.ceil(points.length / Math.max(2, Math.floor(plotW / 90))));
  const last = points.length - 1;
  points.forEach((p, i) => {
    if (i % every !== 0 && i !== last) return;
    if (i !== last && x(last) - x(i) < 80) return; // would run into the last label
    const anchor = points.length > 1 && i === 0 ? "start" : i === last && i > 0 ? "end" : "middle";
    root.append(
      svg("text", { x: x(i), y: height - 10, "text-anchor": anchor, class: "axis" }, p.label),
    );
  });

  // the line, broken where a bucket has no value
  let d = "";
  let drawing = false;
  points.forEach((p, i) => {
    if (p.value === null) {
      drawing = false;
      return;
    }
    d += `${drawing ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`;
    drawing = true;
  });
  if (d) root.append(svg("path", { d, class: "series-line" }));

  points.forEach((p, i) => {
    if (p.value === null) return;
    const dot = svg("circle", { cx: x(i), cy: y(p.value), r: 4, class: "series-dot" });
    dot.append(svg("title", {}, p.detail));
    root.append(dot);
  });

  if (!values.length) {
    root.append(
      svg(
        "text",
        { x: pad.left + plotW / 2, y: pad.top + plotH / 2, "text-anchor": "middle", class: "empty" },
        "No runs in this period",
      ),
    );
  }
  container.replaceChildren(root);
}
