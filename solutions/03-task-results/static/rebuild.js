// static/rebuild.js
// Start a rebuild without leaving the page, then ask the status URL how it goes.
const form = document.getElementById("rebuild-form");
const button = form.querySelector("button");
const status = document.getElementById("rebuild-status");

// Celery's states in words for people. SUCCESS, FAILURE and REVOKED end the rebuild.
const WAITING = {
  PENDING: "Waiting for a worker to take the rebuild…",
  STARTED: "Rebuilding the index…",
  RETRY: "The rebuild will be tried again…",
};
// However the rebuild goes, the page stops asking after this long (milliseconds).
const GIVE_UP_AFTER = 10 * 60 * 1000;

async function getJSON(url, options) {
  const response = await fetch(url, options);
  if (!response.ok) {
    throw new Error(`the server answered ${response.status}`);
  }
  return response.json();
}

function finish(...parts) {
  status.replaceChildren(...parts);
  button.disabled = false;
}

function lost(error) {
  finish(`Lost track of the rebuild (${error.message}). Reload the page to see the index.`);
}

async function poll(url, deadline, delay) {
  const answer = await getJSON(url);
  if (answer.state === "SUCCESS") {
    const size = `${answer.result} entr${answer.result === 1 ? "y" : "ies"}`;
    document.getElementById("index-summary").textContent = `The index holds ${size}.`;
    const search = document.createElement("a");
    search.href = form.dataset.searchUrl;
    search.textContent = "Search the index";
    finish(`Done: the index holds ${size}. `, search);
  } else if (answer.state === "FAILURE") {
    finish(`The rebuild failed: ${answer.error}`);
  } else if (answer.state === "REVOKED") {
    finish("The rebuild was cancelled before it finished.");
  } else if (Date.now() > deadline) {
    finish("No news of the rebuild for ten minutes. Reload the page later to see the index.");
  } else {
    status.textContent = WAITING[answer.state] || "Rebuilding the index…";
    // Every half second at first, then less often, up to every 5 seconds.
    setTimeout(() => poll(url, deadline, Math.min(delay * 1.5, 5000)).catch(lost), delay);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  button.disabled = true;  // busy: a second click starts nothing
  status.textContent = "Starting the rebuild…";
  try {
    const started = await getJSON(form.action || window.location.href, {
      method: "POST",
      body: new FormData(form),
    });
    await poll(started.status_url, Date.now() + GIVE_UP_AFTER, 500);
  } catch (error) {
    lost(error);
  }
});
