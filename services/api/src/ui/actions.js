// Admin buttons (next iteration, resume, cancel): each POSTs to the API with the session cookie
// and the x-corpusminer-ui header, then reloads the page or shows why it was refused.
document.querySelectorAll("button[data-action]").forEach((b) => {
  b.addEventListener("click", async () => {
    if (b.dataset.confirm && !confirm(b.dataset.confirm)) return;
    b.disabled = true;
    const resp = await fetch(b.dataset.action, { method: "POST", headers: { "x-corpusminer-ui": "1" } });
    if (resp.ok) {
      const body = await resp.json().catch(() => ({}));
      location.href = body.location ? "/ui/iterations" : location.href;
      return;
    }
    const e = await resp.json().catch(() => ({ message: resp.statusText }));
    const out = document.getElementById("action-status");
    if (out) { out.textContent = e.message; out.classList.add("error"); }
    b.disabled = false;
  });
});

// Settlement buttons of the disputes page: POST the admin's label with `settle`, then reload.
document.querySelectorAll("button[data-settle]").forEach((b) => {
  b.addEventListener("click", async () => {
    b.disabled = true;
    const resp = await fetch("/api/v1/annotations", {
      method: "POST",
      headers: { "content-type": "application/json", "x-corpusminer-ui": "1" },
      body: JSON.stringify({ annotations: [{ prefix: b.dataset.settle, label: b.dataset.label, settle: true }] }),
    });
    if (resp.ok) { location.reload(); return; }
    const e = await resp.json().catch(() => ({ message: resp.statusText }));
    const out = document.getElementById("action-status");
    if (out) { out.textContent = e.message; out.classList.add("error"); }
    b.disabled = false;
  });
});

// The start form: its JSON (the choices of `corpusminer run`, named like its flags) goes to
// POST /api/v1/iterations with a fresh Idempotency-Key; a refusal names the field at fault.
const start = document.getElementById("start-form");
if (start) {
  const key = "ui-" + Date.now() + "-" + Math.random().toString(16).slice(2);
  start.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = document.getElementById("action-status");
    let body;
    try { body = JSON.parse(start.querySelector("textarea").value); } catch (e) { out.textContent = "not JSON: " + e.message; out.classList.add("error"); return; }
    const resp = await fetch("/api/v1/iterations", {
      method: "POST",
      headers: { "content-type": "application/json", "x-corpusminer-ui": "1", "idempotency-key": key },
      body: JSON.stringify(body),
    });
    if (resp.ok) { location.href = "/ui/iterations"; return; }
    const e = await resp.json().catch(() => ({ message: resp.statusText }));
    out.textContent = (e.field ? e.field + ": " : "") + e.message;
    out.classList.add("error");
  });
}
