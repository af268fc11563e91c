"use strict";
/* 新闻问答 — chat page. Plain ES2020, no dependencies, no build step.
 * Safety rule: corpus and answer text only ever reach the DOM through
 * textContent / createTextNode, never innerHTML. */

const TOP_K = 3;
const HISTORY_LIMIT = 6; // messages per request, including the new question
const HEALTH_OK_MS = 30000;
const HEALTH_DOWN_MS = 5000;
const FALLBACK_EXAMPLES = [
  "武乡县解决了多少件信访问题？",
  "武乡县委书记亲自带头去哪个单位下访？",
  "牡丹江市总工会联合哪些单位举办了活动？",
];

const state = {
  history: [],      // committed {role, content} turns
  busy: false,
  controller: null, // AbortController of the request in flight
  healthy: null,    // true / false / null (unknown)
  healthTimer: 0,
  healthCheck: null, // pending health check promise
  examplesFromServer: false,
  panelToken: 0,    // guards against stale article loads
  panelCitation: null,
  lastTrigger: null,
};
const articleCache = new Map();
const $ = (sel) => document.querySelector(sel);

/* ---------- small DOM helpers ---------- */

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) node.append(c); // strings become text nodes
  return node;
}

/* ---------- API ---------- */

// Turn a non-2xx response into a readable message (FastAPI detail string or validation list).
async function errorMessage(res) {
  let detail = null;
  try { detail = (await res.json()).detail; } catch (_) { /* not JSON */ }
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail.map((d) => (d && d.msg) || JSON.stringify(d)).join("；");
  }
  return `服务器返回错误（HTTP ${res.status}）`;
}

// When the server sets QA_API_KEYS, /api needs `Authorization: Bearer <key>`: ask once per tab.
function authHeaders() {
  const key = sessionStorage.getItem("qa-api-key");
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function askForKey() {
  const key = window.prompt("此服务需要 API 密钥，请输入：");
  if (key && key.trim()) { sessionStorage.setItem("qa-api-key", key.trim()); return true; }
  return false;
}

// fetch with the key; on 401 ask for a key once and try again.
async function authFetch(url, options = {}) {
  const send = () => fetch(url, { ...options, headers: { ...(options.headers || {}), ...authHeaders() } });
  let res = await send();
  if (res.status === 401 && askForKey()) res = await send();
  return res;
}

async function getJSON(url) {
  const res = await authFetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) throw Object.assign(new Error(await errorMessage(res)), { status: res.status });
  return res.json();
}

// fetch() rejects with TypeError when the server cannot be reached at all.
function describeError(err) {
  if (err && err.status) return err.message;
  if (err instanceof TypeError) return "无法连接到服务器，请检查服务是否运行";
  return (err && err.message) || "未知错误";
}

const fetchHealth = () => getJSON("/healthz");
const fetchExamples = () => getJSON("/api/examples");

async function fetchArticle(id) {
  if (!articleCache.has(id)) articleCache.set(id, await getJSON(`/api/articles/${encodeURIComponent(id)}`));
  return articleCache.get(id);
}

/* ---------- SSE parsing ---------- */

// Split buffered text into complete events; returns parsed JSON payloads and the unparsed tail.
function parseSSE(buffer) {
  const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
  const rest = blocks.pop();
  const events = [];
  for (const block of blocks) {
    const ev = parseSSEBlock(block);
    if (ev) events.push(ev);
  }
  return { events, rest };
}

function parseSSEBlock(block) {
  const data = block.split(/\r\n|\n|\r/)
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).replace(/^ /, ""));
  if (!data.length) return null; // comment / keep-alive
  try { return JSON.parse(data.join("\n")); } catch (_) { return null; }
}

// POST the conversation and call onEvent for each event; resolves when the stream ends.
async function streamChat(messages, signal, onEvent) {
  const res = await authFetch("/api/chat", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ messages, top_k: TOP_K, stream: true }),
    signal,
  });
  if (!res.ok) throw Object.assign(new Error(await errorMessage(res)), { status: res.status });
  if ((res.headers.get("Content-Type") || "").includes("application/json")) {
    onEvent({ type: "done", ...(await res.json()) }); // server answered without streaming
    return;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
    const parsed = parseSSE(done ? buffer + "\n\n" : buffer);
    buffer = parsed.rest;
    parsed.events.forEach(onEvent);
    if (done) return;
  }
}

/* ---------- status indicator ---------- */

function setStatus(kind, text, title = "") {
  const box = $("#status");
  box.dataset.state = kind;
  box.querySelector(".status-text").textContent = text;
  box.title = title;
}

// Poll /healthz: quickly while the server is down, slowly while it is up.
function checkHealth() {
  if (!state.healthCheck) state.healthCheck = runHealthCheck().finally(() => { state.healthCheck = null; });
  return state.healthCheck;
}

async function runHealthCheck() {
  clearTimeout(state.healthTimer);
  const wasHealthy = state.healthy;
  try {
    const h = await fetchHealth();
    if (h.status !== "ok") throw new Error(`服务状态：${h.status}`);
    state.healthy = true;
    setStatus("ok", `${h.articles ?? "?"} 篇文章 · ${h.passages ?? "?"} 段`, `已连接${h.model ? `，模型：${h.model}` : ""}`);
    if (wasHealthy === false && !state.examplesFromServer) loadExamples(); // server came back
  } catch (err) {
    state.healthy = false;
    setStatus("down", "服务未连接", `${describeError(err)}（正在自动重试）`);
  }
  state.healthTimer = setTimeout(checkHealth, state.healthy ? HEALTH_OK_MS : HEALTH_DOWN_MS);
}

/* ---------- empty state / examples ---------- */

async function loadExamples() {
  let questions = FALLBACK_EXAMPLES;
  try {
    const data = await fetchExamples();
    if (Array.isArray(data.questions) && data.questions.length) {
      questions = data.questions.filter((q) => typeof q === "string" && q.trim()).slice(0, 6);
      state.examplesFromServer = true;
    }
  } catch (_) { /* keep fallback */ }
  const box = $("#examples");
  box.replaceChildren(...questions.map((q) =>
    el("button", { type: "button", class: "example", onclick: () => ask(q) }, q)));
}

function updateEmptyState() {
  $("#empty").hidden = $("#messages").children.length > 0;
}

/* ---------- conversation rendering ---------- */

function scrollToBottom(force = false) {
  const box = $("#conversation");
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  if (force || nearBottom) box.scrollTop = box.scrollHeight;
}

function addMessage(node) {
  $("#messages").append(node);
  updateEmptyState();
  scrollToBottom(true);
  return node;
}

function addUserMessage(text) {
  return addMessage(el("article", { class: "msg user", "aria-label": "你的问题" },
    el("div", { class: "bubble" }, text)));
}

function addAssistantMessage() {
  const typing = el("div", { class: "typing", "aria-label": "正在生成回答" },
    el("span"), el("span"), el("span"));
  return addMessage(el("article", { class: "msg assistant", "data-state": "pending", "aria-label": "回答" },
    el("div", { class: "bubble" }, typing, el("div", { class: "answer" }))));
}

// Render answer text, turning [n] / [1,2] markers into citation buttons.
function renderAnswer(container, text, citations) {
  const known = new Map((citations || []).map((c) => [Number(c.n), c]));
  const frag = document.createDocumentFragment();
  const re = /\[(\d+(?:\s*[,，、]\s*\d+)*)\]/g;
  let last = 0;
  for (let m; (m = re.exec(text));) {
    frag.append(text.slice(last, m.index));
    for (const n of m[1].split(/\s*[,，、]\s*/).map(Number)) {
      const cite = known.get(n);
      if (citations && !cite) { frag.append(`[${n}]`); continue; } // unknown number: plain text
      frag.append(el("button", {
        type: "button", class: "cite", "data-n": n, disabled: !cite,
        "aria-label": `查看来源 ${n}`, onclick: (e) => openSource(cite, e.currentTarget),
      }, String(n)));
    }
    last = re.lastIndex;
  }
  frag.append(text.slice(last));
  container.replaceChildren(frag);
}

function metaLine(c) {
  return [c.byline, c.source].filter(Boolean).join(" · ");
}

// Labels follow the question's language (the server says which: "zh" or another)
const LABELS = {
  zh: { sources: "来源", related: "相关段落" },
  en: { sources: "Sources", related: "Related passages" },
};
const labels = (lang) => (lang && lang !== "zh" ? LABELS.en : LABELS.zh);

function renderSources(citations, lang) {
  return el("ol", { class: "sources", "aria-label": labels(lang).sources }, ...citations.map((c) =>
    el("li", {}, el("button", {
      type: "button", class: "source", "data-n": c.n, onclick: (e) => openSource(c, e.currentTarget),
    },
    el("span", { class: "source-n" }, String(c.n)),
    el("span", { class: "source-body" },
      el("span", { class: "source-title" }, c.title || "（无标题）"),
      metaLine(c) ? el("span", { class: "source-meta" }, metaLine(c)) : null)))));
}

function renderRelated(related, lang) {
  const items = related.map((c, i) => ({ ...c, n: i + 1, highlights: [] }));
  const label = labels(lang).related;
  return el("div", { class: "related" },
    el("p", { class: "related-label" }, label),
    el("ol", { class: "sources", "aria-label": label }, ...items.map((c) =>
      el("li", {}, el("button", {
        type: "button", class: "source", "data-n": c.n, onclick: (e) => openSource(c, e.currentTarget, label),
      },
      el("span", { class: "source-n" }, String(c.n)),
      el("span", { class: "source-body" },
        el("span", { class: "source-title" }, c.title || "（无标题）"),
        metaLine(c) ? el("span", { class: "source-meta" }, metaLine(c)) : null))))));
}

function finishAnswer(msg, done, asked) {
  const found = done.found !== false;
  const citations = found && Array.isArray(done.citations) ? done.citations : [];
  msg.dataset.state = found ? "done" : "not-found";
  msg.classList.toggle("not-found", !found);
  msg.querySelector(".typing")?.remove();
  const box = msg.querySelector(".answer");
  let text = done.answer || "";
  const short = found && typeof done.short_answer === "string" ? done.short_answer : "";
  if (short && text.startsWith(short)) text = text.slice(short.length).replace(/^\s+/, "");
  renderAnswer(box, text, citations);
  if (short) {
    box.prepend(el("p", { class: "short-answer", "aria-label": "答案" }, short),
      el("p", { class: "evidence-label" }, "依据"));
  }
  // a follow-up that leaves out its subject (那租金呢？) is answered as the question it stands for
  if (typeof done.question === "string" && done.question && asked && done.question !== asked) {
    box.prepend(el("p", { class: "read-as" }, `按“${done.question}”回答`));
  }
  if (citations.length) msg.querySelector(".bubble").append(renderSources(citations, done.language));
  const related = !found && Array.isArray(done.related) ? done.related : [];
  if (related.length) msg.querySelector(".bubble").append(renderRelated(related, done.language));
}

function showError(msg, message, question) {
  msg.className = "msg error";
  msg.dataset.state = "error";
  msg.setAttribute("role", "alert");
  msg.querySelector(".bubble").replaceChildren(
    el("p", { class: "error-text" }, `出错了：${message}`),
    el("button", { type: "button", class: "retry", onclick: () => retry(msg, question) }, "重试"));
}

/* ---------- asking ---------- */

function setBusy(busy) {
  state.busy = busy;
  $("#send").disabled = busy;
  $("#conversation").setAttribute("aria-busy", String(busy));
}

async function ask(question, { isRetry = false } = {}) {
  question = question.trim();
  if (!question || state.busy) return;
  document.querySelectorAll(".msg.error .retry").forEach((b) => b.remove()); // only the latest error is retryable
  if (!isRetry) addUserMessage(question);
  const msg = addAssistantMessage();
  const messages = [...state.history, { role: "user", content: question }].slice(-HISTORY_LIMIT);
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  let text = "";
  let finished = false;
  try {
    await streamChat(messages, controller.signal, (ev) => {
      if (finished || !ev) return;
      if (ev.type === "delta" && typeof ev.text === "string") {
        text += ev.text;
        msg.dataset.state = "streaming";
        msg.querySelector(".typing")?.remove();
        renderAnswer(msg.querySelector(".answer"), text, null);
        scrollToBottom();
      } else if (ev.type === "done") {
        finished = true;
        finishAnswer(msg, ev, question);
        state.history.push({ role: "user", content: question }, { role: "assistant", content: ev.answer || text });
      } else if (ev.type === "error") {
        finished = true;
        showError(msg, ev.message || "服务器处理失败", question);
      }
    });
    if (!finished) showError(msg, "回答中断，请重试", question);
  } catch (err) {
    if (controller.signal.aborted) return; // "新对话" cancelled it; the message is already gone
    showError(msg, describeError(err), question);
    if (!err.status || err.status >= 500) checkHealth();
  } finally {
    if (state.controller === controller) { state.controller = null; setBusy(false); }
    scrollToBottom();
  }
}

function retry(msg, question) {
  if (state.busy) return;
  msg.remove();
  ask(question, { isRetry: true });
}

function newConversation() {
  state.controller?.abort();
  state.controller = null;
  setBusy(false);
  state.history = [];
  $("#messages").replaceChildren();
  updateEmptyState();
  closePanel();
  $("#question").value = "";
  autoGrow();
  $("#question").focus();
}

/* ---------- source panel ---------- */

// Render text into container as paragraphs ("\n"), wrapping `span` [s,e] in .cited-span,
// `marks` [[s,e],...] (evidence sentences) in <mark> and `answer` [s,e] (the short answer) in
// <mark class="answer">. Returns the first cited node (for scrolling).
function renderHighlighted(container, text, marks, span, answer = null) {
  const len = text.length;
  const clamp = (x) => Math.max(0, Math.min(len, Number(x) || 0));
  const ranges = (marks || []).map(([s, e]) => [clamp(s), clamp(e)]).filter(([s, e]) => e > s);
  const cuts = new Set([0, len]);
  ranges.forEach(([s, e]) => { cuts.add(s); cuts.add(e); });
  if (span) { cuts.add(clamp(span[0])); cuts.add(clamp(span[1])); }
  if (answer) { cuts.add(clamp(answer[0])); cuts.add(clamp(answer[1])); }
  const points = [...cuts].sort((a, b) => a - b);
  let para = el("p");
  const paras = [para];
  let first = null;
  for (let i = 0; i + 1 < points.length; i++) {
    const [a, b] = [points[i], points[i + 1]];
    const inMark = ranges.some(([s, e]) => s <= a && b <= e);
    const inSpan = span && clamp(span[0]) <= a && b <= clamp(span[1]);
    const inAnswer = answer && clamp(answer[0]) <= a && b <= clamp(answer[1]);
    text.slice(a, b).split("\n").forEach((piece, j) => {
      if (j > 0) paras.push((para = el("p")));
      if (!piece) return;
      const node = inAnswer ? el("mark", { class: "answer" }, piece)
        : inMark ? el("mark", {}, piece)
        : inSpan ? el("span", { class: "cited-span" }, piece) : document.createTextNode(piece);
      if ((inMark || inSpan) && !first) first = node;
      para.append(node);
    });
  }
  container.replaceChildren(...paras.filter((p) => p.childNodes.length));
  return first;
}

function openSource(citation, trigger, kicker = "来源") {
  if (!citation) return;
  const panel = $("#source-panel");
  state.panelToken++;
  state.panelCitation = citation;
  state.lastTrigger = trigger || null;
  $("#panel-kicker").textContent = `${kicker} [${citation.n}]`;
  $("#panel-title").textContent = citation.title || "（无标题）";
  setOptionalText($("#panel-subtitle"), citation.subtitle);
  setOptionalText($("#panel-meta"), metaLine(citation));
  renderHighlighted($("#panel-passage"), citation.text || "", citation.highlights, null, citation.answer_span);
  $("#panel-passage").hidden = false;
  $("#panel-article").hidden = true;
  $("#panel-article").replaceChildren();
  $("#panel-error").hidden = true;
  // the permalink opens the article on its own page, the quoted sentence highlighted
  const link = $("#permalink");
  link.hidden = !citation.url;
  if (citation.url) link.href = citation.url; else link.removeAttribute("href");
  const btn = $("#read-article");
  btn.disabled = !citation.article_id;
  btn.textContent = "阅读全文";
  btn.setAttribute("aria-expanded", "false");
  panel.hidden = false;
  document.body.classList.add("panel-open");
  $("#panel-body").scrollTop = 0;
  $("#close-panel").focus();
}

function setOptionalText(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

async function toggleArticle() {
  const c = state.panelCitation;
  const btn = $("#read-article");
  if (!c) return;
  if (!$("#panel-article").hidden) { openSource(c, state.lastTrigger); return; } // back to the passage
  const token = state.panelToken;
  btn.disabled = true;
  btn.textContent = "加载中…";
  try {
    const article = await fetchArticle(c.article_id);
    if (token !== state.panelToken) return; // panel switched to another source meanwhile
    const start = Number(c.start) || 0;
    const marks = (c.highlights || []).map(([s, e]) => [start + s, start + e]);
    const answer = c.answer_span ? [start + c.answer_span[0], start + c.answer_span[1]] : null;
    const box = $("#panel-article");
    const first = renderHighlighted(box, article.text || "", marks, [start, Number(c.end) || start], answer);
    box.hidden = false;
    $("#panel-passage").hidden = true;
    $("#panel-passage").replaceChildren(); // keep only one set of <mark>s in the panel
    btn.textContent = "只看引文";
    btn.setAttribute("aria-expanded", "true");
    first?.scrollIntoView({ block: "center" });
  } catch (err) {
    if (token !== state.panelToken) return;
    btn.textContent = "阅读全文";
    $("#panel-error").textContent = `无法加载全文：${describeError(err)}`;
    $("#panel-error").hidden = false;
    if (!err.status) checkHealth();
  } finally {
    if (token === state.panelToken) btn.disabled = false;
  }
}

function closePanel() {
  const panel = $("#source-panel");
  if (panel.hidden) return;
  panel.hidden = true;
  state.panelToken++;
  state.panelCitation = null;
  document.body.classList.remove("panel-open");
  if (state.lastTrigger?.isConnected) state.lastTrigger.focus();
  state.lastTrigger = null;
}

/* ---------- input ---------- */

function autoGrow() {
  const ta = $("#question");
  ta.style.height = "auto";
  ta.style.height = `${Math.min(ta.scrollHeight, 200)}px`;
}

function submitQuestion() {
  const ta = $("#question");
  const q = ta.value.trim();
  if (!q || state.busy) { ta.focus(); return; }
  ta.value = "";
  autoGrow();
  ask(q);
}

function init() {
  const ta = $("#question");
  $("#composer").addEventListener("submit", (e) => { e.preventDefault(); submitQuestion(); });
  ta.addEventListener("input", autoGrow);
  ta.addEventListener("keydown", (e) => {
    // Enter sends; Shift+Enter inserts a newline; never send while an IME is composing.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submitQuestion();
    }
  });
  $("#new-chat").addEventListener("click", newConversation);
  $("#close-panel").addEventListener("click", closePanel);
  $("#panel-backdrop").addEventListener("click", closePanel);
  $("#read-article").addEventListener("click", toggleArticle);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closePanel(); });
  updateEmptyState();
  loadExamples();
  checkHealth();
  ta.focus();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
