// Playground: pick a language, edit, run. It calls the same runner routes as API clients
// (submit, then poll the result), authenticated by the session cookie instead of X-API-KEY.
import "./styles.css";
import { ApiError, type Job, type JudgeOptions, api } from "./api";
import { initCasesPanel } from "./cases";
import { type SentCases, casesSummary } from "./caseview";
import { byId, h } from "./dom";
import { createEditor } from "./editor";
import { verdictOf } from "./format";
import { renderJob } from "./jobview";
import { loadLanguages } from "./languages";
import { hidePageError, requireAccount, showPageError } from "./session";
import { followJob } from "./stream";

const LAST_LANGUAGE_KEY = "coderun.playground.language";

function runErrorText(err: unknown, cases = 0): string {
  if (err instanceof ApiError) {
    if (err.status === 429) return "Too many runs in a minute. Wait a moment and run again.";
    if (err.status === 402 && cases > 0)
      return `Not enough credits: a run with ${cases} test case${cases === 1 ? "" : "s"} holds ${cases} credit${cases === 1 ? "" : "s"} while it runs (each passing case costs 1, the rest are given back). Remove cases or wait for runs still queued or running.`;
    if (err.status === 402)
      return "Out of credits: your balance is used up (or held by runs still queued or running). Each successful run costs 1 credit; failed runs are free.";
    return err.message;
  }
  return "Something went wrong. Please try again.";
}

async function init(): Promise<void> {
  const [account, languages] = await Promise.all([requireAccount(), loadLanguages()]);
  const creditsLeft = byId("credits-left");
  const showCredits = (credits: number) => {
    creditsLeft.textContent = `Credits left: ${credits}.`;
  };
  showCredits(account.credits);

  const select = byId<HTMLSelectElement>("language");
  select.replaceChildren(...languages.map((l) => h("option", { value: l.key }, l.display)));
  const starters = new Map(languages.map((l) => [l.key, l.starter]));
  const requested = new URLSearchParams(location.search).get("language");
  let remembered: string | null;
  try {
    remembered = localStorage.getItem(LAST_LANGUAGE_KEY);
  } catch {
    remembered = null;
  }
  let current =
    [requested, remembered].find((k): k is string => !!k && starters.has(k)) ?? languages[0].key;
  select.value = current;

  // Each language keeps its own buffer while the page is open, so switching back loses nothing.
  const buffers = new Map<string, string>();
  const runButton = byId<HTMLButtonElement>("run");
  const status = byId("run-status");
  const result = byId("result");
  const resultLink = byId("result-link");
  const stdin = byId<HTMLTextAreaElement>("stdin");
  const stdinNote = byId("stdin-note");
  let running = false;
  const cases = initCasesPanel((count) => {
    stdin.disabled = count > 0;
    stdinNote.hidden = count === 0;
  });

  const editor = createEditor(byId("editor"), {
    code: starters.get(current) ?? "",
    language: current,
    describedBy: "editor-help",
    onRun: () => void run(),
  });

  select.addEventListener("change", () => {
    buffers.set(current, editor.getCode());
    current = select.value;
    try {
      localStorage.setItem(LAST_LANGUAGE_KEY, current);
    } catch {
      /* not remembered: fine */
    }
    editor.setLanguage(current);
    editor.setCode(buffers.get(current) ?? starters.get(current) ?? "");
  });
  byId("reset-code").addEventListener("click", () => {
    editor.setCode(starters.get(current) ?? "");
    editor.focus();
  });

  if (/Mac|iPhone|iPad/.test(navigator.platform)) byId("run-shortcut").textContent = "⌘+Enter";

  async function run(): Promise<void> {
    if (running) return;
    running = true;
    runButton.disabled = true;
    runButton.setAttribute("aria-busy", "true");
    hidePageError();
    resultLink.hidden = true;
    result.replaceChildren();
    // The cases as they are now: editing them during the run changes the next run, not the
    // diff of this one.
    const judged = cases.options();
    let judge: JudgeOptions | undefined;
    let sent: SentCases | undefined;
    if (judged && "error" in judged) {
      status.dataset.state = "error";
      status.textContent = "The run did not start.";
      result.replaceChildren(h("p", { class: "alert", role: "alert" }, judged.error));
      running = false;
      runButton.disabled = false;
      runButton.removeAttribute("aria-busy");
      return;
    }
    if (judged) {
      judge = judged;
      sent = { cases: judged.testCases, compare: judged.compare };
    }
    status.dataset.state = "submitting";
    status.textContent = "Submitting…";
    try {
      const submitted = await api.submit(editor.getCode(), current, stdin.value, judge);
      status.dataset.state = submitted.status;
      status.textContent = `Queued as job ${submitted.jobId}…`;
      const job: Job = await followJob(submitted.jobId, (update) => {
        if (update.status === "running") {
          status.dataset.state = "running";
          status.textContent = `Running job ${update.jobId}…`;
        }
      });
      const verdict = verdictOf(job);
      status.dataset.state = job.status;
      const summary = casesSummary(job);
      status.textContent = summary ? `Finished: ${verdict.long}, ${summary}.` : `Finished: ${verdict.long}.`;
      result.replaceChildren(renderJob(job, { sent }));
      resultLink.replaceChildren(
        "Job ",
        h("code", {}, job.jobId),
        " · ",
        h("a", { href: `/dashboard?job=${encodeURIComponent(job.jobId)}` }, "See it in your history"),
      );
      resultLink.hidden = false;
      api.account().then(
        (a) => showCredits(a.credits),
        () => undefined,
      );
    } catch (err) {
      status.dataset.state = "error";
      status.textContent = "The run did not complete.";
      // Next to the Run button, where the user is looking (the page's alert is far up on a phone).
      result.replaceChildren(
        h("p", { class: "alert", role: "alert" }, runErrorText(err, judge?.testCases.length ?? 0)),
      );
    } finally {
      running = false;
      runButton.disabled = false;
      runButton.removeAttribute("aria-busy");
    }
  }

  runButton.addEventListener("click", () => void run());
  // Ctrl/Cmd+Enter from anywhere on the page (the stdin box, the language picker...); the editor
  // handles its own and marks the event as handled.
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    event.preventDefault();
    void run();
  });

  byId("main").removeAttribute("aria-busy");
  document.body.dataset.ready = "true";
}

init().catch((err: unknown) => {
  showPageError(`Could not load the playground: ${runErrorText(err)}`);
  byId("main").removeAttribute("aria-busy");
});
