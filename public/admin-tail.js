// The admin console's live tail of the audit trail (/admin/audit): a toggle button (its
// state is aria-pressed; its name stays "Live tail"). A page script, so the
// CSP needs no inline script. Pressed, it asks /admin/audit/tail for the events after the
// newest one shown (with the page's filters) every five seconds while the page is visible,
// and adds each as a row at the top. Text only: every value goes in as textContent.
(() => {
  'use strict';
  const toggle = document.getElementById('tail-toggle');
  const table = document.getElementById('events');
  const status = document.getElementById('tail-status');
  if (!toggle || !table || !status) return;
  const body = table.tBodies[0];
  const filters = new URLSearchParams(window.location.search);
  filters.delete('cursor');
  let after = toggle.dataset.after || '0';
  let timer;
  let running = false;

  const cell = (text, code) => {
    const td = document.createElement('td');
    if (code) {
      const inner = document.createElement('code');
      inner.textContent = text;
      td.append(inner);
    } else {
      td.textContent = text;
    }
    return td;
  };

  async function poll() {
    if (!running) return;
    if (document.visibilityState === 'visible') {
      const query = new URLSearchParams(filters);
      query.set('after', after);
      try {
        const answer = await fetch(`/admin/audit/tail?${query}`, { headers: { accept: 'application/json' }, credentials: 'same-origin', redirect: 'error' });
        if (!answer.ok) throw new Error(String(answer.status));
        const { events } = await answer.json();
        for (const event of events) {
          body.querySelector('tr.empty')?.remove();
          const row = document.createElement('tr');
          row.dataset.id = event.id;
          row.append(cell(event.time), cell(event.type, true), cell(event.actor), cell(event.accountId), cell(event.clientId), cell(event.ip), cell(event.data, true));
          body.prepend(row);
          after = event.id;
        }
        status.textContent = events.length > 0 ? `${events.length} new event${events.length === 1 ? '' : 's'}` : 'Watching for new events';
      } catch {
        status.textContent = 'The live tail stopped: reload the page to sign in again.';
        stop();
        return;
      }
    }
    timer = setTimeout(poll, 5000);
  }

  function stop() {
    running = false;
    clearTimeout(timer);
    toggle.setAttribute('aria-pressed', 'false');
  }

  toggle.addEventListener('click', () => {
    if (running) {
      stop();
      status.textContent = 'Live tail stopped';
      return;
    }
    running = true;
    toggle.setAttribute('aria-pressed', 'true');
    status.textContent = 'Watching for new events';
    void poll();
  });
})();
