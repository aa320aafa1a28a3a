// The annotation keys of a host page: j/k (or arrows) move, m marks the selected prefix math,
// n not math, u undoes the last label (deletes it: the label before it decides again), s skips,
// ? opens help. A label is posted to /api/v1/annotations with the session
// cookie and the x-corpusminer-ui header, then the next unlabelled prefix is selected.
(function () {
  const rows = Array.from(document.querySelectorAll("tr.prefix"));
  const status = document.getElementById("status");
  const help = document.getElementById("help");
  let at = Math.max(0, rows.findIndex((r) => !r.dataset.label));
  const done = []; // labels made on this page, newest last: {index, id, before, beforeHtml}
  function select(i) {
    if (!rows.length) return;
    at = Math.min(rows.length - 1, Math.max(0, i));
    rows.forEach((r, j) => r.classList.toggle("selected", j === at));
    rows[at].scrollIntoView({ block: "nearest" });
  }
  function nextUnlabelled() {
    for (let k = 1; k <= rows.length; k++) {
      const j = (at + k) % rows.length;
      if (!rows[j].dataset.label) return select(j);
    }
    status.textContent = "every prefix on this page is labelled";
  }
  async function label(value) {
    const row = rows[at];
    const prefix = row.dataset.prefix;
    status.textContent = "saving " + prefix + " as " + value + "…";
    const resp = await fetch("/api/v1/annotations", {
      method: "POST",
      headers: { "content-type": "application/json", "x-corpusminer-ui": "1" },
      body: JSON.stringify({ annotations: [{ prefix: prefix, label: value }] }),
    });
    if (!resp.ok) {
      const e = await resp.json().catch(() => ({ message: resp.statusText }));
      status.textContent = "not saved: " + e.message;
      status.classList.add("error");
      return;
    }
    status.classList.remove("error");
    const made = await resp.json();
    const cell = row.querySelector("td.labelcell");
    done.push({ index: at, id: made.items[0].id, before: row.dataset.label, beforeHtml: cell.innerHTML });
    row.dataset.label = value;
    cell.innerHTML = '<span class="label ' + value + '">' + (value === "math" ? "math" : "not math") + "</span>";
    status.textContent = prefix + " is " + (value === "math" ? "math" : "not math");
    document.body.dataset.saved = String((+document.body.dataset.saved || 0) + 1); // for tests
    nextUnlabelled();
  }
  async function undo() {
    const last = done.pop();
    if (!last) { status.textContent = "nothing to undo"; return; }
    const resp = await fetch("/api/v1/annotations/" + last.id, { method: "DELETE", headers: { "x-corpusminer-ui": "1" } });
    if (!resp.ok) {
      const e = await resp.json().catch(() => ({ message: resp.statusText }));
      status.textContent = "not undone: " + e.message;
      done.push(last);
      return;
    }
    const row = rows[last.index];
    row.dataset.label = last.before;
    row.querySelector("td.labelcell").innerHTML = last.beforeHtml;
    select(last.index);
    status.textContent = "undone: " + row.dataset.prefix;
  }
  rows.forEach((r, i) => r.addEventListener("click", () => select(i)));
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest && ev.target.closest("input, textarea")) return;
    if (ev.key === "?") { help.classList.toggle("open"); return; }
    if (ev.key === "Escape") { help.classList.remove("open"); return; }
    if (!rows.length) return;
    if (ev.key === "j" || ev.key === "ArrowDown") { select(at + 1); ev.preventDefault(); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { select(at - 1); ev.preventDefault(); }
    else if (ev.key === "m") label("math");
    else if (ev.key === "n") label("nonmath");
    else if (ev.key === "s") nextUnlabelled();
    else if (ev.key === "u") undo();
  });
  select(at);
})();
