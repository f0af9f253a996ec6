// Bebas Cemas reporting dashboard: polls the API every few seconds and redraws in place.
(() => {
  "use strict";

  const TEXT = {
    id: {
      title: "Pemantauan Kampanye", campaign: "Kampanye", csv: "Unduh CSV",
      enrolments: "Pendaftaran", sent: "Pesan terkirim", delivered: "Pesan diterima",
      failed: "Pesan gagal", deferred: "Ditunda", delivery_rate: "Tingkat penerimaan",
      payers: "Peserta membayar", conversion: "Konversi ke pembayaran",
      amount: "Iuran terkumpul", opt_outs: "Berhenti berlangganan",
      over_time: "Pendaftaran per hari", by_branch: "Pendaftaran per kantor cabang",
      by_segment: "Pendaftaran per segmen", funnel: "Alur pesan: terkirim → diterima / gagal",
      conversion_by_branch: "Konversi pendaftaran → pembayaran pertama per cabang",
      branches: "Kantor cabang", branch: "Cabang", health: "Kesehatan aliran data",
      eps: "Peristiwa per detik", dead_letters: "Pesan rusak (dead letter)",
      workers: "Worker aktif", group: "Grup konsumen", lag: "Tertinggal (pesan)",
      updated: "Diperbarui", no_campaign: "Tanpa kampanye", toggle: "English",
      incomplete: "Data belum lengkap (worker sedang mulai atau menyeimbangkan ulang): ",
      unreachable: "Server laporan tidak dapat dihubungi: ", no_data: "Belum ada data",
      sign_in_title: "Masuk", sign_in: "Masuk", sign_out: "Keluar", api_key: "Kunci API",
      sign_in_help: "Masukkan kunci API Anda (kunci yang sama dengan pendaftaran).",
      sign_in_refused: "Kunci ditolak: ", signed_in_as: "Masuk sebagai ",
      dl_title: "Pesan rusak (dead letter)", dl_reason: "Alasan", dl_count: "Jumlah",
      dl_when: "Waktu gagal", dl_source: "Sumber",
    },
    en: {
      title: "Campaign monitor", campaign: "Campaign", csv: "Download CSV",
      enrolments: "Enrolments", sent: "Messages sent", delivered: "Messages delivered",
      failed: "Messages failed", deferred: "Deferred", delivery_rate: "Delivery rate",
      payers: "Paying participants", conversion: "Conversion to payment",
      amount: "Contributions collected", opt_outs: "Opt-outs",
      over_time: "Enrolments per day", by_branch: "Enrolments by branch office",
      by_segment: "Enrolments by segment", funnel: "Message funnel: sent → delivered / failed",
      conversion_by_branch: "Conversion enrolment → first payment by branch",
      branches: "Branch offices", branch: "Branch", health: "Stream health",
      eps: "Events per second", dead_letters: "Dead letters", workers: "Active workers",
      group: "Consumer group", lag: "Lag (messages)", updated: "Updated",
      no_campaign: "No campaign", toggle: "Bahasa Indonesia",
      incomplete: "Figures incomplete (a worker is starting or rebalancing): ",
      unreachable: "Reporting server unreachable: ", no_data: "No data yet",
      sign_in_title: "Sign in", sign_in: "Sign in", sign_out: "Sign out", api_key: "API key",
      sign_in_help: "Enter your API key (the same key as for enrolment).",
      sign_in_refused: "Key refused: ", signed_in_as: "Signed in as ",
      dl_title: "Dead letters", dl_reason: "Reason", dl_count: "Count",
      dl_when: "Failed at", dl_source: "Source",
    },
  };

  // Numbers are always written the Indonesian way: 1.234 and Rp16.800.
  const INT = new Intl.NumberFormat("id-ID", { maximumFractionDigits: 0 });
  const DEC = new Intl.NumberFormat("id-ID", { maximumFractionDigits: 1 });
  const num = (n) => INT.format(n);
  const rupiah = (n) => "Rp" + INT.format(n);
  const pct = (r) => (r === null || r === undefined ? "–" : DEC.format(r * 100) + "%");

  const params = new URLSearchParams(location.search);
  const state = {
    lang: params.get("lang") || localStorage.getItem("bebas-lang") || "id",
    campaign: params.get("campaign") || null,
    interval: Math.max(500, Number(params.get("interval")) || 3000),
    charts: {},
    refreshes: 0,
    who: null, // {role, branch} once signed in
    timer: null,
    deadSeen: null, // the stream's dead-letter count when the panel was last read
  };
  window.__dashboard = { loadedAt: Date.now(), state };

  const t = (key) => TEXT[state.lang][key] || key;
  const $ = (sel) => document.querySelector(sel);
  const setText = (testid, text) => { $(`[data-testid="${testid}"]`).textContent = text; };

  function applyLanguage() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $("#lang").textContent = t("toggle");
    document.title = "Bebas Cemas — " + t("title");
    Object.values(state.charts).forEach((chart) => chart.update("none"));
  }

  async function getJSON(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.detail || response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function chart(id, type, options = {}) {
    if (!state.charts[id]) {
      state.charts[id] = new Chart(document.getElementById(id), {
        type,
        data: { labels: [], datasets: [] },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          plugins: { legend: { display: type === "doughnut" || Boolean(options.legend) } },
          scales: type === "doughnut" ? {} : {
            y: { beginAtZero: true, ticks: { precision: 0, callback: options.tick || num } },
          },
        },
      });
    }
    return state.charts[id];
  }

  function draw(id, type, labels, datasets, options) {
    const c = chart(id, type, options);
    c.data.labels = labels;
    c.data.datasets = datasets;
    c.update("none");
  }

  const COLOURS = ["#0a7f3f", "#1f6fb2", "#d9822b", "#b23b3b", "#7a4fb2", "#4a9a9a", "#9a8a2a"];

  function renderCampaign(m) {
    const msg = m.messages;
    setText("kpi-enrolments", num(m.enrolments.total));
    setText("kpi-sent", num(msg.sent));
    setText("kpi-delivered", num(msg.delivered));
    setText("kpi-failed", num(msg.failed));
    setText("kpi-delivery-rate", pct(msg.delivery_rate));
    setText("kpi-payers", num(m.payments.payers));
    setText("kpi-conversion", pct(m.payments.conversion_rate));
    setText("kpi-amount", rupiah(m.payments.amount));
    setText("kpi-opt-outs", num(m.opt_outs.total));

    draw("chart-days", "line", m.series.map((d) => d.date), [
      { label: t("enrolments"), data: m.series.map((d) => d.enrolments), borderColor: COLOURS[0], backgroundColor: COLOURS[0] },
    ]);
    const branches = Object.keys(m.by_branch);
    draw("chart-branches", "bar", branches, [
      { label: t("enrolments"), data: branches.map((b) => m.by_branch[b].enrolments), backgroundColor: COLOURS[1] },
    ]);
    const segments = Object.keys(m.enrolments.by_segment);
    draw("chart-segments", "doughnut", segments, [
      { data: segments.map((s) => m.enrolments.by_segment[s]), backgroundColor: COLOURS },
    ]);
    draw("chart-funnel", "bar", [t("sent"), t("delivered"), t("failed"), t("deferred")], [
      { label: t("funnel"), data: [msg.sent, msg.delivered, msg.failed, msg.deferred],
        backgroundColor: [COLOURS[1], COLOURS[0], COLOURS[3], COLOURS[2]] },
    ]);
    draw("chart-conversion", "bar", branches, [
      { label: t("conversion"), data: branches.map((b) => (m.by_branch[b].conversion_rate || 0) * 100), backgroundColor: COLOURS[4] },
    ], { tick: (v) => DEC.format(v) + "%" });

    const rows = branches.map((b) => {
      const g = m.by_branch[b];
      return `<tr data-testid="branch-row-${b}"><td>${escape(b)}</td><td class="num">${num(g.enrolments)}</td>` +
        `<td class="num">${num(g.payers)}</td><td class="num">${pct(g.conversion_rate)}</td>` +
        `<td class="num">${rupiah(g.amount)}</td></tr>`;
    });
    $('[data-testid="branch-table"] tbody').innerHTML = rows.join("") || `<tr><td colspan="5">${t("no_data")}</td></tr>`;
  }

  function renderHealth(h) {
    setText("health-eps", DEC.format(h.events_per_second));
    setText("health-dead-letters", num(h.dead_letters));
    setText("health-workers", num(h.workers.length));
    const rows = Object.entries(h.lag.by_group).map(([group, lag]) =>
      `<tr data-testid="lag-row"><td>${escape(group)}</td><td class="num" data-group="${escape(group)}">${num(lag)}</td></tr>`);
    $('[data-testid="lag-table"] tbody').innerHTML = rows.join("") || `<tr><td colspan="2">${t("no_data")}</td></tr>`;
  }

  function renderPicker(overview) {
    const select = $("#campaign");
    const codes = overview.campaigns.map((c) => c.code);
    if (!state.campaign || !codes.includes(state.campaign)) {
      state.campaign = codes.find((c) => c !== "-") || codes[0] || null;
    }
    const options = overview.campaigns.map((c) => {
      const label = c.code === "-" ? t("no_campaign") : `${c.name || c.code} (${c.code})`;
      return `<option value="${escape(c.code)}"${c.code === state.campaign ? " selected" : ""}>${escape(label)}</option>`;
    }).join("");
    if (select.innerHTML !== options) select.innerHTML = options;
    if (state.campaign) $("#csv").href = `/v1/campaigns/${encodeURIComponent(state.campaign)}/report.csv`;
  }

  function escape(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function renderDeadLetters(d) {
    const counts = Object.entries(d.counts_by_reason).map(([reason, n]) =>
      `<tr data-testid="dead-letter-reason"><td>${escape(reason)}</td><td class="num">${num(n)}</td></tr>`);
    $('[data-testid="dead-letter-reasons"] tbody').innerHTML = counts.join("") || `<tr><td colspan="2">${t("no_data")}</td></tr>`;
    const when = (iso) => new Date(iso).toLocaleString(state.lang === "id" ? "id-ID" : "en-GB");
    const latest = d.items.map((l) =>
      `<tr data-testid="dead-letter-row"><td>${escape(when(l.failed_at))}</td>` +
      `<td data-testid="dead-letter-source">${escape(l.service)}: ${escape(l.source_topic)} [${l.partition}] @${l.offset ?? "–"}</td>` +
      `<td>${escape(l.reason)}</td><td><code>${escape(l.id)}</code></td></tr>`);
    $('[data-testid="dead-letter-latest"] tbody').innerHTML = latest.join("") || `<tr><td colspan="4">${t("no_data")}</td></tr>`;
  }

  class SignedOut extends Error {}

  function showSignIn(message) {
    state.who = null;
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
    $("#board").hidden = true;
    $("#sign-out").hidden = true;
    $("#sign-in").hidden = false;
    setText("sign-in-error", message || "");
    setText("status", "");
  }

  function showBoard(who) {
    state.who = who;
    state.deadSeen = null;
    const operations = who.role !== "officer"; // officers read their branch's figures only
    $("#sign-in").hidden = true;
    $("#board").hidden = false;
    $("#sign-out").hidden = false;
    $("#sign-out").title = t("signed_in_as") + who.role + (who.branch ? " " + who.branch : "");
    $("#health").hidden = !operations;
    $("#dead-letters").hidden = !operations;
    refresh();
    if (!state.timer) state.timer = setInterval(refresh, state.interval);
  }

  async function start() {
    const response = await fetch("/v1/session", { headers: { Accept: "application/json" } });
    if (response.ok) showBoard(await response.json());
    else showSignIn("");
  }

  async function refresh() {
    if (!state.who) return;
    try {
      await refreshPanels();
    } catch (error) {
      if (error instanceof SignedOut) showSignIn(error.message);
      else throw error;
    }
  }

  async function refreshPanels() {
    const problems = [];
    try {
      const overview = await getJSON("/v1/overview");
      renderPicker(overview);
      if (state.campaign) renderCampaign(await getJSON(`/v1/campaigns/${encodeURIComponent(state.campaign)}/metrics`));
    } catch (error) {
      if (error.status === 401) throw new SignedOut(error.message);
      problems.push((error.status === 503 ? t("incomplete") : t("unreachable")) + error.message);
    }
    if (state.who && state.who.role !== "officer") {
      try {
        const health = await getJSON("/v1/stream-health");
        renderHealth(health);
        // the listing reads the whole dead-letter topic: only when the count moved, or now and
        // then (a replay or another worker's letters do not move this worker's count)
        if (health.dead_letters !== state.deadSeen || state.refreshes % 20 === 0) {
          renderDeadLetters(await getJSON("/v1/dead-letters?page_size=10"));
          state.deadSeen = health.dead_letters;
        }
      } catch (error) {
        if (error.status === 401) throw new SignedOut(error.message);
        problems.push(t("unreachable") + error.message);
      }
    }
    setText("status", problems.join(" · "));
    setText("updated", new Date().toLocaleTimeString(state.lang === "id" ? "id-ID" : "en-GB"));
    state.refreshes += 1;
  }

  $("#campaign").addEventListener("change", (event) => { state.campaign = event.target.value; refresh(); });
  $("#lang").addEventListener("click", () => {
    state.lang = state.lang === "id" ? "en" : "id";
    localStorage.setItem("bebas-lang", state.lang);
    applyLanguage();
    refresh();
  });

  $("#sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/v1/session", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ key: $("#sign-in-key").value }),
    });
    const body = await response.json().catch(() => ({}));
    $("#sign-in-key").value = "";
    if (response.ok) showBoard(body);
    else setText("sign-in-error", t("sign_in_refused") + (body.detail || response.status));
  });
  $("#sign-out").addEventListener("click", async () => {
    await fetch("/v1/session", { method: "DELETE" });
    showSignIn("");
  });

  applyLanguage();
  start();
})();
