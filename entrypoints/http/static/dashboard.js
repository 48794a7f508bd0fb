// The operators' dashboard. It calls the JSON API with the bearer token, which it asks
// for once and keeps in this tab's sessionStorage: no cookie, so no CSRF surface.
// Every value reaches the page through textContent or createTextNode, never innerHTML:
// an error message from CCD is untrusted text.
"use strict";

(() => {
  const TOKEN_KEY = "export-responses.token";
  const REFRESH_MS = 5000;
  const REQUEST_TIMEOUT_MS = 10000; // no request waits without limit
  const PER_PAGE = 50;
  const COUNTED = ["queued", "in_progress", "erroring", "complete", "failed"];

  const $ = (id) => document.getElementById(id);
  let refreshTimer = null;
  let generation = 0; // a refresh overtaken by a newer one draws nothing and schedules nothing
  let selectedExport = null; // the export whose timeline is shown
  const shown = new Map(); // what each section last drew, so an unchanged one is left alone

  class NeedsToken extends Error {}

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // ---- the token -------------------------------------------------------------------

  function askForToken(reason) {
    stopRefreshing();
    $("board").hidden = true;
    $("forget-token").hidden = true;
    $("token-panel").hidden = false;
    $("token-reason").textContent = reason;
    $("token").value = "";
    $("token").focus();
  }

  function tokenEntered(event) {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token").value = "";
    $("token-panel").hidden = true;
    $("board").hidden = false;
    $("forget-token").hidden = false;
    shown.clear();
    refresh();
  }

  function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken("The token is forgotten. Enter one to go on.");
  }

  // ---- the API ---------------------------------------------------------------------

  async function api(method, path, body) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      askForToken("Enter one of the service's API tokens to see and act on the exports.");
      throw new NeedsToken();
    }
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    init.signal = controller.signal;
    let reply, text;
    try {
      reply = await fetch(path, init);
      text = await reply.text();
    } catch (error) {
      const why = error.name === "AbortError" ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : "the service cannot be reached";
      throw new ApiError(0, `${method} ${path}: ${why}`);
    } finally {
      clearTimeout(timer);
    }
    const data = parsed(text);
    if (reply.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      askForToken("The service did not accept the token. Enter it again.");
      throw new NeedsToken();
    }
    if (!reply.ok) throw new ApiError(reply.status, `${method} ${path}: ${reply.status} ${envelopeDetail(data)}`);
    return { status: reply.status, data };
  }

  function parsed(text) {
    try {
      return text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  }

  function envelopeDetail(data) {
    const errors = data && Array.isArray(data.errors) ? data.errors : [];
    const details = errors.map((error) => (error && typeof error.detail === "string" ? error.detail : "")).filter(Boolean);
    return details.length ? details.join("; ") : "(no detail given)";
  }

  // ---- building the page: text only ------------------------------------------------

  function el(tag, options = {}, ...children) {
    const node = document.createElement(tag);
    if (options.className) node.className = options.className;
    for (const [key, value] of Object.entries(options.data || {})) node.dataset[key] = String(value);
    if (options.title) node.title = options.title;
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(child === null || child === undefined ? "" : String(child)));
    }
    return node;
  }

  function cell(value, className) {
    return el("td", { className }, value === null || value === undefined ? "—" : value);
  }

  function button(label, action, id) {
    const node = el("button", { data: { action, id } }, label);
    node.type = "button";
    return node;
  }

  function when(iso) {
    if (!iso) return "—";
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return String(iso);
    const seconds = Math.round((moment.getTime() - Date.now()) / 1000);
    const size = Math.abs(seconds);
    const span = size < 60 ? `${size} s` : size < 3600 ? `${Math.round(size / 60)} min` : `${Math.round(size / 3600)} h`;
    const relative = size < 2 ? "now" : seconds > 0 ? `in ${span}` : `${span} ago`;
    return `${String(iso).replace("T", " ").replace(/\.\d+Z$/, " UTC")} (${relative})`;
  }

  // What went wrong (as ExportView.last_error says in Python): the export's message, unless
  // it only names the state; then the error of its last attempt, under external_data.error.
  const STATE_MESSAGES = new Set(["Response erroring", "Response failed to export"]);

  function lastError(exportBody) {
    if (exportBody.message && !STATE_MESSAGES.has(exportBody.message)) return exportBody.message;
    const error = exportBody.external_data && exportBody.external_data.error;
    if (error && typeof error === "object" && typeof error.message === "string") return error.message;
    return exportBody.message;
  }

  function replaceRows(tbody, rows, columns, emptyText) {
    tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { className: "empty" }, emptyText))]));
    if (!rows.length) tbody.firstChild.firstChild.colSpan = columns;
  }

  // Unchanged data is not drawn again (a button is not swapped under the pointer), but the
  // relative times ("in 3 min") are, once a minute.
  function changed(section, data) {
    const drawn = JSON.stringify([data, Math.floor(Date.now() / 60000)]);
    if (shown.get(section) === drawn) return false;
    shown.set(section, drawn);
    return true;
  }

  function showSectionError(section, error) {
    const node = $(`${section}-error`);
    node.hidden = !error;
    node.textContent = error ? error.message : "";
    if (error) shown.delete(section);
  }

  // ---- the sections ----------------------------------------------------------------

  function drawSystems(body) {
    const systems = body && Array.isArray(body.external_systems) ? body.external_systems : [];
    if (!changed("systems", systems)) return;
    const rows = systems.map((system) => {
      const circuit = system.circuit || {};
      const counts = system.exports || {};
      const paused = system.paused ? `paused ${when(system.paused_at)}${system.paused_by ? ` by ${system.paused_by}` : ""}` : "no";
      const circuitText = `${circuit.state || "closed"}${circuit.consecutive_failures ? `, ${circuit.consecutive_failures} failures in a row` : ""}${
        circuit.next_probe_at ? `, next probe ${when(circuit.next_probe_at)}` : ""
      }`;
      const circuitCell = cell(circuitText, `state-${circuit.state || "closed"}`);
      if (circuit.last_failure) circuitCell.title = circuit.last_failure;
      return el(
        "tr",
        { data: { systemId: system.id } },
        cell(system.id, "number"),
        cell(system.name),
        cell(system.reference),
        cell(paused, system.paused ? "state-paused" : ""),
        circuitCell,
        ...COUNTED.map((state) => cell(counts[state] ?? 0, "number")),
        el("td", {}, system.paused ? button("Resume", "resume", system.id) : button("Pause", "pause", system.id)),
      );
    });
    replaceRows($("systems-rows"), rows, 11, "No external systems.");
  }

  function drawExports(section, page) {
    const exportsShown = page && Array.isArray(page.exports) ? page.exports : [];
    const total = page && page.meta ? page.meta.total : exportsShown.length;
    if (!changed(section, page)) return;
    $(`${section}-total`).textContent = total > exportsShown.length ? `(${exportsShown.length} newest of ${total})` : `(${total})`;
    const rows = exportsShown.map((exportBody) => {
      const actions = el("td", {}, button("Events", "events", exportBody.id));
      if (exportBody.command_uuid) {
        actions.append(button("Retry", "retry", exportBody.id));
        if (exportBody.state !== "failed") actions.append(button("Cancel", "cancel", exportBody.id));
      } else {
        actions.append(el("span", { className: "note", title: "Rows of the Rails side are shown, never changed" }, "Rails side's"));
      }
      return el(
        "tr",
        { data: { exportId: exportBody.id, state: exportBody.state } },
        cell(exportBody.id, "number"),
        cell(exportBody.external_system_id, "number"),
        cell(exportBody.response_id, "number"),
        cell(exportBody.attempts, "number"),
        cell(lastError(exportBody), "last-error"),
        cell(when(section === "failed" ? exportBody.updated_at : exportBody.next_attempt_at)),
        actions,
      );
    });
    replaceRows($(`${section}-rows`), rows, 7, `No ${section} exports.`);
  }

  // Who did an operator's action: the service keeps it beside the event's data.
  function actorOf(event) {
    const service = event.data && event.data.export_responses;
    return service && typeof service.by === "string" ? ` by ${service.by}` : "";
  }

  function drawTimeline(exportBody) {
    if (!changed("timeline", exportBody)) return;
    $("timeline").hidden = false;
    $("timeline-title").textContent = `Export ${exportBody.id}: ${exportBody.state}`;
    $("timeline-summary").textContent =
      `Response ${exportBody.response_id} to system ${exportBody.external_system_id}; ${exportBody.attempts} attempts; ` +
      `next attempt ${when(exportBody.next_attempt_at)}; command ${exportBody.command_uuid || "none (the Rails side's)"}`;
    const events = Array.isArray(exportBody.events) ? exportBody.events : [];
    $("timeline-events").replaceChildren(
      ...events.map((event) =>
        el(
          "li",
          { data: { state: event.state } },
          el("span", { className: "when" }, when(event.created_at)),
          el("span", { className: "state" }, event.state),
          event.message || "",
          el("span", { className: "who" }, actorOf(event)),
          el("pre", {}, JSON.stringify(event.data ?? {})),
        ),
      ),
    );
  }

  // ---- refreshing ------------------------------------------------------------------

  function stopRefreshing() {
    generation += 1;
    clearTimeout(refreshTimer);
    refreshTimer = null;
  }

  async function refresh() {
    stopRefreshing();
    const mine = generation;
    const sections = [
      ["systems", api("GET", "/api/v2/external_systems"), drawSystems],
      ["failed", api("GET", `/api/v2/exports?state=failed&per_page=${PER_PAGE}`), (body) => drawExports("failed", body)],
      ["erroring", api("GET", `/api/v2/exports?state=erroring&per_page=${PER_PAGE}`), (body) => drawExports("erroring", body)],
    ];
    if (selectedExport !== null) {
      sections.push(["timeline", api("GET", `/api/v2/exports/${selectedExport}`), drawTimeline]);
    }
    const outcomes = await Promise.allSettled(sections.map(([, request]) => request));
    if (mine !== generation) return;
    let needsToken = false;
    outcomes.forEach((outcome, index) => {
      const [section, , draw] = sections[index];
      if (outcome.status === "fulfilled") {
        showSectionError(section, null);
        draw(outcome.value.data);
      } else if (outcome.reason instanceof NeedsToken) {
        needsToken = true;
      } else {
        showSectionError(section, outcome.reason);
      }
    });
    if (needsToken) return; // the token form is up; refreshing starts again once it is filled in
    $("refreshed").textContent = `Refreshed at ${new Date().toLocaleTimeString()}; again every ${REFRESH_MS / 1000} s`;
    refreshTimer = setTimeout(refresh, REFRESH_MS);
  }

  // ---- the buttons -----------------------------------------------------------------

  const ACTIONS = {
    retry: (id) => ["POST", `/api/v2/exports/${id}/retry`, `Export ${id} is queued again.`],
    cancel: (id) => ["POST", `/api/v2/exports/${id}/cancel`, `Export ${id} is cancelled.`],
    pause: (id) => ["POST", `/api/v2/external_systems/${id}/pause`, `System ${id} is paused: its exports wait.`],
    resume: (id) => ["POST", `/api/v2/external_systems/${id}/resume`, `System ${id} is running again.`],
  };

  function notify(text, isError) {
    $("notice").hidden = false;
    $("notice").className = isError ? "error" : "";
    $("notice").textContent = text;
  }

  async function act(target) {
    const { action, id } = target.dataset;
    if (action === "events") {
      selectedExport = id;
      shown.delete("timeline");
      refresh();
      return;
    }
    if (action === "cancel" && !window.confirm(`Cancel export ${id}? It ends failed, "Cancelled by an operator".`)) return;
    const [method, path, done] = ACTIONS[action](id);
    target.disabled = true;
    try {
      const reply = await api(method, path);
      const pending = reply.status === 202 ? " It is being attempted now, and ends failed when the attempt ends." : "";
      notify(done + pending, false);
    } catch (error) {
      if (!(error instanceof NeedsToken)) notify(error.message, true);
    } finally {
      target.disabled = false;
    }
    if (sessionStorage.getItem(TOKEN_KEY)) refresh();
  }

  function clicked(event) {
    const target = event.target.closest("button[data-action]");
    if (target && !target.disabled) act(target);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", tokenEntered);
    $("forget-token").addEventListener("click", forgetToken);
    $("board").addEventListener("click", clicked);
    $("timeline-close").addEventListener("click", () => {
      selectedExport = null;
      shown.delete("timeline");
      $("timeline").hidden = true;
    });
    if (sessionStorage.getItem(TOKEN_KEY)) {
      $("board").hidden = false;
      $("forget-token").hidden = false;
      refresh();
    } else {
      askForToken("Enter one of the service's API tokens to see and act on the exports.");
    }
  });
})();
