// static/rebuild.js
// Start a rebuild without leaving the page, then ask the status URL how it goes, and show it
// on a progress bar.
const form = document.getElementById("rebuild-form");
const button = form.querySelector("button");
const status = document.getElementById("rebuild-status");
const meter = document.getElementById("rebuild-progress");
const bar = document.getElementById("rebuild-bar");

// Celery's states in words for people. SUCCESS, FAILURE and REVOKED end the rebuild.
const WAITING = {
  PENDING: "Waiting for a worker to take the rebuild…",
  STARTED: "Rebuilding the index…",
  RETRY: "The rebuild will be tried again…",
};
// However the rebuild goes, the page stops asking after this long (milliseconds).
const GIVE_UP_AFTER = 10 * 60 * 1000;
// PENDING is also what an id the server does not know reads: do not wait on it for ever.
const PENDING_AT_MOST = 2 * 60 * 1000;

async function getJSON(url, options) {
  const response = await fetch(url, options);
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    throw new Error(answer.error || `the server answered ${response.status}`);
  }
  return response.json();
}

function finish(...parts) {
  status.replaceChildren(...parts);
  button.disabled = false;
}

function stopped(...parts) {
  meter.hidden = true;
  finish(...parts);
}

function lost(error) {
  stopped(`Lost track of the rebuild (${error.message}). Reload the page to see the index.`);
}

function show(progress) {
  bar.value = progress.percent;
  bar.textContent = `${progress.percent} %`;  // for browsers that cannot draw the bar
  status.textContent =
    `Indexed ${progress.current} of ${progress.total} albums (${progress.percent} %).`;
}

async function poll(url, times, delay) {
  const answer = await getJSON(url);
  const now = Date.now();
  if (answer.state === "SUCCESS") {
    show({ current: answer.result, total: answer.result, percent: 100 });
    const size = `${answer.result} entr${answer.result === 1 ? "y" : "ies"}`;
    document.getElementById("index-summary").textContent = `The index holds ${size}.`;
    const search = document.createElement("a");
    search.href = form.dataset.searchUrl;
    search.textContent = "Search the index";
    finish(`Done: the index holds ${size}. `, search);
  } else if (answer.state === "FAILURE") {
    stopped(`The rebuild failed: ${answer.error}`);
  } else if (answer.state === "REVOKED") {
    stopped("The rebuild was cancelled before it finished.");
  } else if (now > times.giveUp) {
    stopped("No news of the rebuild for ten minutes. Reload the page later to see the index.");
  } else if (answer.state === "PENDING" && now > times.pendingUntil) {
    stopped("No worker has taken the rebuild in two minutes. Is a worker running? " +
            "Reload the page later to see the index.");
  } else {
    if (answer.progress) {
      show(answer.progress);
    } else {
      status.textContent = WAITING[answer.state] || "Rebuilding the index…";
    }
    // Every half second at first, then a little less often, up to every 2 seconds.
    setTimeout(() => poll(url, times, Math.min(delay * 1.2, 2000)).catch(lost), delay);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  button.disabled = true;  // busy: a second click starts nothing
  bar.removeAttribute("value");  // no value: the bar shows "busy"
  bar.textContent = "";
  meter.hidden = false;
  status.textContent = "Starting the rebuild…";
  let started;
  try {
    started = await getJSON(form.action || window.location.href, {
      method: "POST",
      body: new FormData(form),
    });
  } catch (error) {
    stopped(`The rebuild did not start: ${error.message}`);
    return;
  }
  const now = Date.now();
  const times = { giveUp: now + GIVE_UP_AFTER, pendingUntil: now + PENDING_AT_MOST };
  await poll(started.status_url, times, 500).catch(lost);
});
