// @ts-check
// The chat page: the generated client (chat.duplex.js, a native ES
// module) and the DOM. Everything from the server is inserted as text
// (textContent), never as HTML.
//
// Sessions: when the connection drops and comes back to the same server
// process, or to any node of a cluster on one Redis (chat -redis, such as
// behind HAProxy: the socket URL is the page's own location), the client
// resumes the session: still logged in, and the events missed meanwhile
// are replayed, each once. When the server cannot resume it (it restarted
// without a shared engine, or the resume window passed), onStartOver runs
// and the page logs in again under the same name.

import { ChatClient, DuplexError, isNameTaken } from "./chat.duplex.js";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id));

const url = new URL("ws", location.href);
url.protocol = location.protocol === "https:" ? "wss:" : "ws:";

/** The name this page logged in with, kept to log in again after a start-over. */
let myName = "";
/** Set while the page itself closes the connection (Disconnect). */
let closingByUs = false;

const client = new ChatClient(url.href, {
  onState: showState,
  onClose: (e) => {
    const clean = e.wasClean ? "clean" : "not clean";
    const what =
      e.code === 1000 ? "closed by the server" : e.code === 1001 ? "the server went away" : e.code === 1012 ? "the server restarts" : "connection lost";
    const next = client.state === "closed" ? "not reconnecting" : "reconnecting";
    const text = `${what}: ${e.code}${e.reason ? " " + e.reason : ""}, ${clean}; ${next}`;
    setDetail(text);
    const li = logLine("system", text);
    li.dataset.code = String(e.code);
    li.dataset.clean = String(e.wasClean);
    if (client.state === "closed") {
      myName = ""; // a terminal close ends the session, and the login with it
      updateButtons();
    }
  },
  onStartOver: (reason) => {
    logLine("system", `the server could not resume the session (${reason}): starting over`);
    if (myName) login(myName, true);
  },
});

client.on("joined", (e) => {
  logLine("joined", `${e.name} joined`);
  showUsers(e.users);
});
client.on("left", (e) => {
  logLine("left", `${e.name} left`);
  showUsers(e.users);
});
client.on("said", (e) => {
  const li = logLine("said", "");
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = e.from;
  li.append(from, ": ", e.content);
});

/** The last state shown. */
let shown = "closed";

/** @param {import("./chat.duplex.js").State} state */
function showState(state) {
  if (shown === "reconnecting" && state === "open") logLine("system", "reconnected");
  shown = state;
  const el = $("state");
  el.textContent = state;
  el.dataset.state = state;
  if (state === "open") setDetail(client.session ? `session ${client.session.slice(0, 8)}` : "");
  if (state === "closed" && closingByUs) setDetail("closed by you: 1000; not reconnecting");
  closingByUs = false;
  updateButtons();
}

/** @param {string} text */
function setDetail(text) {
  $("detail").textContent = text;
}

/**
 * Appends a line to the log, as text.
 * @param {string} kind
 * @param {string} text
 */
function logLine(kind, text) {
  const log = $("log");
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = text;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(li);
  if (atBottom) log.scrollTop = log.scrollHeight;
  return li;
}

/** @param {unknown} err */
function logError(err) {
  logLine("error", err instanceof DuplexError ? `${err.code}: ${err.message}` : String(err));
}

/** @param {string[]} users */
function showUsers(users) {
  const ul = $("users");
  ul.replaceChildren(
    ...users.map((name) => {
      const li = document.createElement("li");
      li.textContent = name;
      return li;
    }),
  );
  $("count").textContent = String(users.length);
}

function updateButtons() {
  const s = client.state;
  /** @type {HTMLButtonElement} */ ($("connect")).disabled = s !== "closed";
  /** @type {HTMLButtonElement} */ ($("disconnect")).disabled = s === "closed";
  /** @type {HTMLButtonElement} */ ($("shutdown")).disabled = s === "closed";
  /** @type {HTMLButtonElement} */ ($("login")).disabled = s === "closed" || myName !== "";
  /** @type {HTMLButtonElement} */ ($("logout")).disabled = s === "closed" || myName === "";
  /** @type {HTMLButtonElement} */ ($("send")).disabled = s === "closed" || myName === "";
  $("me").textContent = myName ? `logged in as ${myName}` : "";
}

/**
 * Logs in as name (again, after a start-over, when again).
 * @param {string} name
 * @param {boolean} again
 */
async function login(name, again) {
  try {
    const { users } = await client.login({ name });
    myName = name;
    showUsers(users);
    if (again) logLine("system", `logged in again as ${name}`);
  } catch (err) {
    if (again) myName = "";
    if (isNameTaken(err)) logLine("error", `${err.message}: choose another name`);
    else logError(err);
  }
  updateButtons();
}

function connect() {
  setDetail("");
  client.connect().catch(logError);
  updateButtons();
}

$("connect").onclick = connect;
$("disconnect").onclick = () => {
  closingByUs = true;
  client.close(1000, "bye"); // ends the session: the user leaves
  myName = "";
  logLine("system", "disconnected: closed by you with 1000");
  updateButtons();
};
$("shutdown").onclick = () => {
  client.shutdown().then(
    () => logLine("system", "shutdown answered: the server closes the connection"),
    logError,
  );
};
$("login-form").onsubmit = (ev) => {
  ev.preventDefault();
  const name = input("name").value.trim();
  if (name) login(name, false);
};
$("logout").onclick = async () => {
  try {
    await client.logout();
    myName = "";
  } catch (err) {
    logError(err);
  }
  updateButtons();
};
$("say-form").onsubmit = async (ev) => {
  ev.preventDefault();
  const box = input("message");
  const content = box.value;
  if (!content.trim()) return;
  box.value = "";
  try {
    await client.user({ content });
  } catch (err) {
    box.value ||= content; // not sent: give it back
    logError(err);
  }
};

updateButtons();
connect();
