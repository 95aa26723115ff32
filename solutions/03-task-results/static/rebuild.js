// static/rebuild.js
// Start a rebuild without leaving the page, then ask the status URL how it goes.
const form = document.getElementById("rebuild-form");
const button = form.querySelector("button");
const status = document.getElementById("rebuild-status");
const summary = document.getElementById("index-summary");

// Celery's states, in words for people. SUCCESS, FAILURE and REVOKED end the rebuild.
const WAITING = {
  PENDING: "Waiting for a worker to take the rebuild…",
  STARTED: "Rebuilding the index…",
  RETRY: "The rebuild will be tried again…",
};
// However the rebuild goes, the page stops asking after this long (milliseconds).
const GIVE_UP_AFTER = 10 * 60 * 1000;

function entries(count) {
  return count === 1 ? "1 entry" : `${count} entries`;
}

function show(text, ...extra) {
  status.replaceChildren(text, ...extra);
}

function finish(text, ...extra) {
  show(text, ...extra);
  button.disabled = false;
  form.removeAttribute("aria-busy");
}

function searchLink() {
  const link = document.createElement("a");
  link.href = form.dataset.searchUrl;
  link.textContent = "Search the index";
  return link;
}

async function poll(url, deadline, delay) {
  let answer;
  try {
    const response = await fetch(url);
    if (!response.ok) {
      throw new Error(`the status page answered ${response.status}`);
    }
    answer = await response.json();
  } catch (error) {
    finish(`Could not ask how the rebuild goes (${error.message}). Reload the page to see the index.`);
    return;
  }
  if (answer.state === "SUCCESS") {
    summary.textContent = `The index holds ${entries(answer.result)}.`;
    finish(`Done: the index holds ${entries(answer.result)}. `, searchLink());
  } else if (answer.state === "FAILURE") {
    finish(`The rebuild failed: ${answer.error}`);
  } else if (answer.state === "REVOKED") {
    finish("The rebuild was cancelled before it finished.");
  } else if (Date.now() > deadline) {
    finish("The rebuild is taking far longer than expected. Reload the page later to see the index.");
  } else {
    show(WAITING[answer.state] || "Rebuilding the index…");
    // Ask every half second at first, then less often, up to every 5 seconds.
    setTimeout(() => poll(url, deadline, Math.min(delay * 1.5, 5000)), delay);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  // Busy: a second click starts nothing (and the server runs one rebuild at a time anyway).
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  show("Starting the rebuild…");
  let started;
  try {
    const response = await fetch(form.action || window.location.href, {
      method: "POST",
      body: new FormData(form),
    });
    if (!response.ok) {
      throw new Error(`the server answered ${response.status}`);
    }
    started = await response.json();
  } catch (error) {
    finish(`The rebuild did not start (${error.message}).`);
    return;
  }
  poll(started.status_url, Date.now() + GIVE_UP_AFTER, 500);
});
