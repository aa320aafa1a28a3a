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
