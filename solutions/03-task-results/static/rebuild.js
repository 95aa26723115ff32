// Start a rebuild without leaving the page, then ask the status URL how it goes.
const form = document.getElementById("rebuild-form");
const status = document.getElementById("rebuild-status");

function show(text) {
  status.textContent = text;
}

async function poll(url) {
  const answer = await (await fetch(url)).json();
  if (answer.state === "SUCCESS") {
    show(`Done: the index holds ${answer.result} entries.`);
  } else if (answer.state === "FAILURE") {
    show(`The rebuild failed: ${answer.error}`);
  } else {
    show(`Task ${answer.task_id} is ${answer.state}…`);
    setTimeout(() => poll(url), 500);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch(form.action || window.location.href, {
    method: "POST",
    body: new FormData(form),
  });
  const started = await response.json();
  show(`Started task ${started.task_id}.`);
  poll(started.status_url);
});
