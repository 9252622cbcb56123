// Dashboard: credits, the API key, usage over time, and the execution history with its filters.
import "./styles.css";
import { type Account, type Job, type Stats, api, errorText, isPending, waitForResult } from "./api";
import { type ChartPoint, renderLineChart } from "./chart";
import { casesSummary } from "./caseview";
import { byId, h } from "./dom";
import { dateTime, ms, percent, verdictBadge } from "./format";
import { renderJob } from "./jobview";
import { languageName, loadLanguages } from "./languages";
import { hidePageError, requireAccount, showPageError } from "./session";
import { wireShownOnce } from "./shownonce";
import { deliveriesPending, initWebhookSecret, renderDeliveries } from "./webhooks";

const PAGE_SIZE = 20;
const PENDING_REFRESH_MS = 2000;
const DELIVERY_REFRESH_MS = 5000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------- credits and API key

function renderAccount(account: Account): void {
  byId("credits").textContent = String(account.credits);
  byId("credits-used").textContent = String(account.creditsUsed);
  byId("account-email").textContent = account.email;
  byId("account-since").textContent = account.createdAt
    ? new Date(account.createdAt).toLocaleDateString()
    : "–";
  byId("early-note").hidden = !account.early;
  const status = byId("key-status");
  if (account.hasApiKey) {
    status.replaceChildren(
      "Your active key starts with ",
      h("code", { "data-testid": "key-prefix" }, `${account.apiKeyPrefix ?? "nr_live_"}…`),
      ".",
    );
  } else {
    status.textContent = "You have no API key yet. Generate one to call the API from your code.";
  }
  byId("key-confirm-prefix").textContent = `${account.apiKeyPrefix ?? "nr_live_"}…`;
}

function initApiKey(getAccount: () => Account, setAccount: (a: Account) => void): void {
  wireShownOnce({
    make: byId<HTMLButtonElement>("generate-key"),
    confirm: byId("key-confirm"),
    panel: byId("new-key"),
    noun: "key",
    exists: () => getAccount().hasApiKey,
    create: async () => (await api.generateApiKey()).apiKey,
    shown: async () => {
      const account = await api.account();
      setAccount(account);
      renderAccount(account);
    },
    clearError: hidePageError,
    showError: (err) => showPageError(`Could not generate a key: ${errorText(err)}`),
  });
}

// ---------------------------------------------------------------- usage stats and charts

interface Period {
  from: Date;
  to: Date;
  bucket: "hour" | "day";
  step: number;
}

function periodOf(range: string, now = new Date()): Period {
  if (range === "24h") {
    const from = new Date(Math.floor((now.getTime() - 23 * HOUR) / HOUR) * HOUR);
    return { from, to: now, bucket: "hour", step: HOUR };
  }
  const days = range === "30d" ? 30 : 7;
  // Day buckets start at UTC midnight, as the API counts them.
  const from = new Date(Math.floor(now.getTime() / DAY) * DAY - (days - 1) * DAY);
  return { from, to: now, bucket: "day", step: DAY };
}

function bucketLabel(t: number, bucket: "hour" | "day"): string {
  const d = new Date(t);
  return bucket === "hour"
    ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}

function renderStats(stats: Stats, period: Period): void {
  byId("stat-count").textContent = String(stats.count);
  byId("stat-success").textContent = percent(stats.successRate);
  byId("stat-mean").textContent = ms(stats.meanExecutionTimeMs);
  byId("stat-p95").textContent = ms(stats.p95ExecutionTimeMs);
  byId("stat-credits").textContent = String(stats.creditsUsed);

  // One slot per bucket of the period, so empty hours and days show as gaps, not as nothing.
  const bySlot = new Map<number, Stats["series"][number]>();
  for (const b of stats.series) {
    bySlot.set(Math.floor(Date.parse(b.bucketStart) / period.step), b);
  }
  const first = Math.floor(period.from.getTime() / period.step);
  const last = Math.floor(period.to.getTime() / period.step);
  const successPoints: ChartPoint[] = [];
  const timePoints: ChartPoint[] = [];
  const rows: HTMLTableRowElement[] = [];
  for (let slot = first; slot <= last; slot++) {
    const b = bySlot.get(slot);
    const label = bucketLabel(slot * period.step, period.bucket);
    const count = b?.count ?? 0;
    const rate = count && b?.successRate !== null && b?.successRate !== undefined ? b.successRate : null;
    const ratePct = rate === null ? null : rate * 100;
    const mean = count ? (b?.meanExecutionTimeMs ?? null) : null;
    successPoints.push({
      label,
      value: ratePct,
      detail: `${label}: ${percent(rate)} of ${count} run${count === 1 ? "" : "s"} succeeded`,
    });
    timePoints.push({ label, value: mean, detail: `${label}: mean ${ms(mean)} over ${count} runs` });
    if (count) {
      rows.push(
        h(
          "tr",
          {},
          h("th", { scope: "row" }, label),
          h("td", { class: "num" }, String(count)),
          h("td", { class: "num" }, String(b?.successCount ?? 0)),
          h("td", { class: "num" }, percent(rate)),
          h("td", { class: "num" }, ms(mean)),
        ),
      );
    }
  }
  const periodText = (byId<HTMLSelectElement>("stats-range").selectedOptions[0]?.text ?? "").toLowerCase();
  renderLineChart(byId("chart-success"), successPoints, {
    title: "Success rate over time",
    description: `Share of runs that succeeded per ${period.bucket}, ${periodText}. Overall ${percent(stats.successRate)} of ${stats.count} runs.`,
    yFormat: (v) => `${Math.round(v)}%`,
    yMax: 100,
    colorClass: "series-success",
  });
  renderLineChart(byId("chart-time"), timePoints, {
    title: "Mean execution time over time",
    description: `Mean execution time per ${period.bucket}, ${periodText}. Overall mean ${ms(stats.meanExecutionTimeMs)}, p95 ${ms(stats.p95ExecutionTimeMs)}.`,
    yFormat: (v) => ms(v),
    minTop: 10,
    colorClass: "series-time",
  });
  byId("stats-table").replaceChildren(
    rows.length
      ? h(
          "table",
          { class: "data-table" },
          h("caption", { class: "sr-only" }, "Runs per period"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, period.bucket === "hour" ? "Hour" : "Day"),
              h("th", { scope: "col", class: "num" }, "Runs"),
              h("th", { scope: "col", class: "num" }, "Succeeded"),
              h("th", { scope: "col", class: "num" }, "Success rate"),
              h("th", { scope: "col", class: "num" }, "Mean execution"),
            ),
          ),
          h("tbody", {}, ...rows),
        )
      : h("p", { class: "muted" }, "No runs in this period."),
  );
}

let shownStats: { stats: Stats; period: Period } | null = null;

async function loadStats(): Promise<void> {
  const period = periodOf(byId<HTMLSelectElement>("stats-range").value);
  try {
    const stats = await api.stats({
      from: period.from.toISOString(),
      to: period.to.toISOString(),
      bucket: period.bucket,
    });
    shownStats = { stats, period };
    renderStats(stats, period);
  } catch (err) {
    showPageError(`Could not load usage: ${errorText(err)}`);
  }
}

// ---------------------------------------------------------------- history

interface Filters {
  language: string;
  status: string;
  errorType: string;
  from: string; // yyyy-mm-dd, local day
  to: string;
  page: number;
}

const FILTER_KEYS = ["language", "status", "errorType", "from", "to"] as const;

function readFiltersFromUrl(): Filters {
  const q = new URLSearchParams(location.search);
  const page = Number.parseInt(q.get("page") ?? "1", 10);
  return {
    language: q.get("language") ?? "",
    status: q.get("status") ?? "",
    errorType: q.get("errorType") ?? "",
    from: q.get("from") ?? "",
    to: q.get("to") ?? "",
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

function writeFiltersToUrl(f: Filters): void {
  const q = new URLSearchParams(location.search);
  for (const key of FILTER_KEYS) {
    if (f[key]) q.set(key, f[key]);
    else q.delete(key);
  }
  if (f.page > 1) q.set("page", String(f.page));
  else q.delete("page");
  const qs = q.toString();
  history.replaceState(null, "", qs ? `${location.pathname}?${qs}` : location.pathname);
}

/** A local calendar day as the ISO instant it starts (or, for `to`, ends) at. */
function dayBound(day: string, end: boolean): string | undefined {
  if (!day) return undefined;
  const [y, m, d] = day.split("-").map(Number);
  if (!y || !m || !d) return undefined;
  const date = end ? new Date(y, m - 1, d, 23, 59, 59, 999) : new Date(y, m - 1, d, 0, 0, 0, 0);
  return date.toISOString();
}

class History {
  private filters: Filters;
  private readonly form = byId<HTMLFormElement>("filters");
  private readonly body = byId<HTMLTableSectionElement>("history-body");
  private readonly summary = byId("history-summary");
  private readonly pageInfo = byId("page-info");
  private readonly prev = byId<HTMLButtonElement>("prev-page");
  private readonly next = byId<HTMLButtonElement>("next-page");
  private jobs = new Map<string, Job>();
  private loadSeq = 0;
  private refreshTimer: number | undefined;

  constructor(private readonly openJob: (job: Job | string) => void) {
    this.filters = readFiltersFromUrl();
    this.fillForm();
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.applyForm();
    });
    this.form.addEventListener("change", () => this.applyForm());
    byId("filters-clear").addEventListener("click", () => {
      this.form.reset();
      this.applyForm();
    });
    this.prev.addEventListener("click", () => this.goTo(this.filters.page - 1));
    this.next.addEventListener("click", () => this.goTo(this.filters.page + 1));
  }

  private field(name: string): HTMLInputElement | HTMLSelectElement {
    return this.form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
  }

  private fillForm(): void {
    for (const key of FILTER_KEYS) this.field(key).value = this.filters[key];
  }

  private applyForm(): void {
    const next: Filters = { ...this.filters, page: 1 };
    for (const key of FILTER_KEYS) next[key] = this.field(key).value;
    this.filters = next;
    writeFiltersToUrl(this.filters);
    void this.load();
  }

  private goTo(page: number): void {
    this.filters = { ...this.filters, page: Math.max(1, page) };
    writeFiltersToUrl(this.filters);
    void this.load();
  }

  async load(): Promise<void> {
    const seq = ++this.loadSeq;
    window.clearTimeout(this.refreshTimer);
    const f = this.filters;
    this.body.closest("table")?.setAttribute("aria-busy", "true");
    try {
      const result = await api.jobs({
        language: f.language,
        status: f.status,
        errorType: f.errorType,
        from: dayBound(f.from, false),
        to: dayBound(f.to, true),
        page: f.page,
        pageSize: PAGE_SIZE,
      });
      if (seq !== this.loadSeq) return; // a newer request superseded this one
      this.render(result.items, result.total, result.page, result.pageSize || PAGE_SIZE);
    } catch (err) {
      if (seq !== this.loadSeq) return;
      showPageError(`Could not load the history: ${errorText(err)}`);
    } finally {
      if (seq === this.loadSeq) this.body.closest("table")?.removeAttribute("aria-busy");
    }
  }

  private render(items: Job[], total: number, page: number, pageSize: number): void {
    this.jobs = new Map(items.map((j) => [j.jobId, j]));
    const filtered = FILTER_KEYS.some((k) => this.filters[k]);
    if (!items.length) {
      this.body.replaceChildren(
        h(
          "tr",
          { class: "empty-row" },
          h(
            "td",
            { colspan: 6 },
            filtered
              ? "No runs match these filters."
              : "No runs yet. Try the playground, or call the API with your key.",
          ),
        ),
      );
    } else {
      this.body.replaceChildren(...items.map((job) => this.row(job)));
    }
    const pages = Math.max(1, Math.ceil(total / pageSize));
    const firstIndex = total ? (page - 1) * pageSize + 1 : 0;
    const lastIndex = (page - 1) * pageSize + items.length;
    this.summary.textContent = total
      ? `Showing ${firstIndex}–${lastIndex} of ${total} run${total === 1 ? "" : "s"}${filtered ? " matching the filters" : ""}.`
      : filtered
        ? "No runs match these filters."
        : "No runs yet.";
    this.pageInfo.textContent = `Page ${page} of ${pages}`;
    this.prev.disabled = page <= 1;
    this.next.disabled = page >= pages;
    // Runs still queued or running on this page: look again shortly, as the playground does.
    if (items.some(isPending)) {
      this.refreshTimer = window.setTimeout(() => void this.load(), PENDING_REFRESH_MS);
    }
  }

  private row(job: Job): HTMLTableRowElement {
    const open = h(
      "button",
      { type: "button", class: "link-button mono", "aria-label": `View job ${job.jobId}` },
      job.jobId.length > 12 ? `${job.jobId.slice(0, 10)}…` : job.jobId,
    );
    open.addEventListener("click", () => this.openJob(this.jobs.get(job.jobId) ?? job));
    return h(
      "tr",
      { "data-job-id": job.jobId, "data-language": job.language, "data-status": job.status },
      h("td", { "data-label": "Job" }, open),
      h("td", { "data-label": "Queued" }, dateTime(job.queuedAt)),
      h("td", { "data-label": "Language" }, languageName(job.language)),
      h("td", { "data-label": "Verdict" }, verdictBadge(job), casesCell(job)),
      h("td", { "data-label": "Execution", class: "num" }, ms(job.executionTimeMs)),
      h("td", { "data-label": "Total", class: "num" }, ms(job.totalTimeMs)),
    );
  }
}

/** "7/8 passed" beside the verdict of a submission with test cases. */
function casesCell(job: Job): HTMLElement | null {
  const summary = casesSummary(job);
  return summary ? h("span", { class: "cases-passed muted", "data-testid": "cases-passed" }, summary) : null;
}

// ---------------------------------------------------------------- job detail dialog

function initJobDialog(): (job: Job | string) => void {
  const dialog = byId<HTMLDialogElement>("job-dialog");
  const body = byId("job-body");
  const title = byId("job-title");
  let opener: HTMLElement | null = null;
  let watching: AbortController | null = null;
  byId("job-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    watching?.abort();
    const q = new URLSearchParams(location.search);
    q.delete("job");
    const qs = q.toString();
    history.replaceState(null, "", qs ? `${location.pathname}?${qs}` : location.pathname);
    opener?.focus();
  });
  // A click on the backdrop closes; a click on the dialog's own padding does not.
  dialog.addEventListener("click", (e) => {
    const r = dialog.getBoundingClientRect();
    const inside =
      e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
    if (e.target === dialog && !inside) dialog.close();
  });

  const show = (job: Job) => {
    title.textContent = `Job ${job.jobId}`;
    body.replaceChildren(renderJob(job, { showMeta: true }));
  };

  // The job's webhook deliveries: read when the dialog opens and when the job ends, and again
  // while one is pending (its next try is scheduled), until the dialog closes.
  const deliveriesBox = byId("job-deliveries");
  let deliveryTimer: number | undefined;
  const loadDeliveries = (jobId: string, signal: AbortSignal) => {
    window.clearTimeout(deliveryTimer);
    api.deliveries(jobId, signal).then(
      ({ deliveries }) => {
        if (signal.aborted) return;
        const log = renderDeliveries(deliveries);
        deliveriesBox.replaceChildren(...(log ? [log] : []));
        if (deliveriesPending(deliveries)) {
          deliveryTimer = window.setTimeout(() => loadDeliveries(jobId, signal), DELIVERY_REFRESH_MS);
        }
      },
      (err: unknown) => {
        if (signal.aborted) return;
        deliveriesBox.replaceChildren(
          h("p", { class: "alert" }, `Could not load the webhook deliveries: ${errorText(err)}`),
        );
      },
    );
  };
  dialog.addEventListener("close", () => window.clearTimeout(deliveryTimer));

  return (jobOrId) => {
    opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const jobId = typeof jobOrId === "string" ? jobOrId : jobOrId.jobId;
    const q = new URLSearchParams(location.search);
    q.set("job", jobId);
    history.replaceState(null, "", `${location.pathname}?${q.toString()}`);
    if (typeof jobOrId === "string") {
      title.textContent = `Job ${jobId}`;
      body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    } else {
      show(jobOrId);
    }
    if (!dialog.open) dialog.showModal();
    // Always fetch the result itself (the list row may be stale), and while the job is queued or
    // running keep waiting for it, until it finishes or the dialog closes.
    watching?.abort();
    const controller = new AbortController();
    watching = controller;
    let sawPending = false;
    const showUnlessStale = (job: Job) => {
      if (isPending(job)) sawPending = true;
      if (!controller.signal.aborted) show(job);
    };
    deliveriesBox.replaceChildren();
    loadDeliveries(jobId, controller.signal);
    waitForResult(jobId, showUnlessStale, controller.signal).then(
      () => {
        // A job's delivery is made when it ends: read the log again if it ended meanwhile.
        if (sawPending && !controller.signal.aborted) loadDeliveries(jobId, controller.signal);
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        body.append(h("p", { class: "alert" }, `Could not load this job: ${errorText(err)}`));
      },
    );
  };
}

// ---------------------------------------------------------------- page

async function init(): Promise<void> {
  const [first, languages] = await Promise.all([requireAccount(), loadLanguages()]);
  let account = first;
  renderAccount(account);
  byId<HTMLSelectElement>("f-language").replaceChildren(
    h("option", { value: "" }, "All languages"),
    ...languages.map((l) => h("option", { value: l.key }, l.display)),
  );
  void initWebhookSecret();
  initApiKey(
    () => account,
    (a) => {
      account = a;
    },
  );
  const openJob = initJobDialog();
  const historyView = new History(openJob);
  byId("history-refresh").addEventListener("click", () => {
    void historyView.load();
    void loadStats();
    api.account().then((a) => {
      account = a;
      renderAccount(a);
    }, () => undefined);
  });
  byId<HTMLSelectElement>("stats-range").addEventListener("change", () => void loadStats());
  // The charts are drawn at their container's width: redraw when it changes (rotation, resize).
  let chartWidth = byId("chart-success").clientWidth;
  new ResizeObserver(() => {
    const width = byId("chart-success").clientWidth;
    if (width === chartWidth || !shownStats) return;
    chartWidth = width;
    renderStats(shownStats.stats, shownStats.period);
  }).observe(byId("chart-success"));
  await Promise.all([historyView.load(), loadStats()]);
  const jobParam = new URLSearchParams(location.search).get("job");
  if (jobParam) openJob(jobParam);
  byId("main").removeAttribute("aria-busy");
  document.body.dataset.ready = "true";
}

init().catch((err: unknown) => {
  showPageError(`Could not load the dashboard: ${errorText(err)}`);
  byId("main").removeAttribute("aria-busy");
});
