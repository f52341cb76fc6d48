// SMS PDS support page: plain JavaScript over the service's own API. The token lives in this
// browser tab's sessionStorage only and goes out as a header on every call.
(() => {
  'use strict';

  const TEXT = {
    ru: {
      sessions: 'Сессии',
      campaigns: 'Рассылки',
      signOut: 'Выйти',
      signInTitle: 'Вход для поддержки',
      token: 'Ключ доступа (support или admin)',
      signIn: 'Войти',
      searchHint: 'Телефон, номер карты или id сессии',
      find: 'Найти',
      state: 'Состояние',
      kind: 'Вид',
      phone: 'Телефон',
      card: 'Карта',
      terminal: 'Касса',
      created: 'Начата',
      auth: 'Авторизация',
      activation: 'Выдача карты',
      attempt: 'Отказ до начала',
      reports: 'Отчёты',
      from: 'С',
      to: 'по',
      show: 'Показать',
      csv: 'Скачать CSV',
      chartSessions: 'Авторизации по итогу',
      chartRefused: 'Отказы до начала по причинам',
      chartSms: 'СМС и их стоимость по провайдерам',
      chartRates: 'Доля применённых карт и доставленных СМС',
      chartCampaigns: 'Сообщения рассылок',
      verifiedShare: 'карта применена, %',
      deliveryRate: 'СМС доставлено, %',
      smsCount: 'СМС',
      reportSummary: (n, s, c) => `Дней: ${n}. Авторизаций: ${s}. Отказов до начала: ${c}.`,
      reason: 'Причина',
      who: 'Кто',
      technical: 'Технические подробности',
      found: (n) => `Найдено: ${n}`,
      nothing: 'Ничего не найдено',
      badToken: 'Ключ не подходит',
      timeline: 'Шаги',
      sms: 'СМС',
      diagram: 'Схема',
      deadline: 'Код действует до',
      provider: 'Провайдер',
      outcome: 'Итог',
      answer: 'Ответ',
      delivery: 'Доставка',
      cost: 'Цена',
      segments: 'Частей',
      cancel: 'Отменить сессию',
      cancelled: 'Сессия отменена',
      back: '← к списку',
      by: 'кто',
      noSms: 'СМС не отправлялись',
      progress: 'Ход',
      total: 'Всего',
      sent: 'Отправлено',
      failed: 'Ошибки',
      skipped: 'Пропущено',
      unknown: 'Неизвестно',
      queued: 'В очереди',
      start: 'Запустить',
      confirmStart: 'Запустить рассылку «{name}»? Сообщения уйдут всем получателям с согласием.',
      confirmPause: 'Поставить рассылку «{name}» на паузу?',
      confirmResume: 'Продолжить рассылку «{name}»?',
      confirmCancel: 'Отменить рассылку «{name}»? Неотправленные сообщения не уйдут.',
      yes: 'Да',
      no: 'Нет',
      all: 'Все',
      more: 'Показать ещё',
      filter: 'Показать',
      notSentCancelled: 'не отправлено: рассылка отменена',
      pause: 'Пауза',
      resume: 'Продолжить',
      cancelCampaign: 'Отменить рассылку',
      reasons: 'Почему не отправлено',
      recipients: 'Получатели',
      runs: 'Запуски',
      nextRun: 'Следующий запуск',
      halted: 'Остановлена: провайдер не принял сообщения',
      awaitingRetry: 'ждут повтора после возобновления',
      duplicatePossible: 'возможен дубль',
      mayHaveSent: 'могло уйти',
      waitingProvider: 'Ждёт провайдера, повтор в',
      none: '—',
      updated: 'Изменена',
      error: 'Ошибка',
    },
    en: {
      sessions: 'Sessions',
      campaigns: 'Campaigns',
      signOut: 'Sign out',
      signInTitle: 'Support sign-in',
      token: 'Access token (support or admin)',
      signIn: 'Sign in',
      searchHint: 'Phone, card number or session id',
      find: 'Find',
      state: 'State',
      kind: 'Kind',
      phone: 'Phone',
      card: 'Card',
      terminal: 'Terminal',
      created: 'Started',
      auth: 'Authorization',
      activation: 'Card issue',
      attempt: 'Refused start',
      reports: 'Reports',
      from: 'From',
      to: 'to',
      show: 'Show',
      csv: 'Download CSV',
      chartSessions: 'Authorizations by outcome',
      chartRefused: 'Refused starts by reason',
      chartSms: 'SMS and their cost by provider',
      chartRates: 'Share of cards applied and SMS delivered',
      chartCampaigns: 'Campaign messages',
      verifiedShare: 'card applied, %',
      deliveryRate: 'SMS delivered, %',
      smsCount: 'SMS',
      reportSummary: (n, s, c) => `Days: ${n}. Authorizations: ${s}. Refused starts: ${c}.`,
      reason: 'Reason',
      who: 'Who',
      technical: 'Technical details',
      found: (n) => `Found: ${n}`,
      nothing: 'Nothing found',
      badToken: 'This token does not work',
      timeline: 'Timeline',
      sms: 'SMS',
      diagram: 'Workflow',
      deadline: 'PIN valid until',
      provider: 'Provider',
      outcome: 'Outcome',
      answer: 'Answer',
      delivery: 'Delivery',
      cost: 'Cost',
      segments: 'Parts',
      cancel: 'Cancel session',
      cancelled: 'Session cancelled',
      back: '← back to the list',
      by: 'by',
      noSms: 'No SMS sent',
      progress: 'Progress',
      total: 'Total',
      sent: 'Sent',
      failed: 'Failed',
      skipped: 'Skipped',
      unknown: 'Unknown',
      queued: 'Queued',
      start: 'Start',
      confirmStart: 'Start the campaign “{name}”? Messages go to every recipient with consent.',
      confirmPause: 'Pause the campaign “{name}”?',
      confirmResume: 'Resume the campaign “{name}”?',
      confirmCancel: 'Cancel the campaign “{name}”? Messages not sent yet will not go.',
      yes: 'Yes',
      no: 'No',
      all: 'All',
      more: 'Show more',
      filter: 'Show',
      notSentCancelled: 'not sent: the campaign was cancelled',
      pause: 'Pause',
      resume: 'Resume',
      cancelCampaign: 'Cancel campaign',
      reasons: 'Why not sent',
      recipients: 'Recipients',
      runs: 'Runs',
      nextRun: 'Next run',
      halted: 'Stopped: the provider refused the messages',
      awaitingRetry: 'wait to be sent again on resume',
      duplicatePossible: 'a duplicate is possible',
      mayHaveSent: 'may have been sent',
      waitingProvider: 'Waiting for the provider, next try at',
      none: '—',
      updated: 'Updated',
      error: 'Error',
    },
  };
  let lang = sessionStorage.getItem('smspds.lang') || 'ru';
  const t = (key, ...args) => {
    const v = TEXT[lang][key];
    return typeof v === 'function' ? v(...args) : (v ?? key);
  };
  const $ = (sel) => document.querySelector(sel);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  /** The service's catalog of words (states, steps, reasons…) in the page's language. */
  let words = null;
  async function loadWords() {
    words = (await api('/catalog')).catalog;
  }
  /** A time as the venue's clock shows it (the service's `timezone`). */
  const when = (iso) =>
    iso
      ? new Date(iso).toLocaleString(lang === 'ru' ? 'ru-RU' : 'en-GB', {
          timeZone: words?.timeZone,
          dateStyle: 'short',
          timeStyle: 'short',
        })
      : t('none');
  /** A word of the catalog, or the raw key when the catalog has none. */
  const word = (table, key) => words?.[table]?.[key] ?? key;
  const stateWord = (kind, state) => words?.states?.[kind]?.[state] ?? words?.sms?.[state] ?? state;
  const OK = ['verified', 'activated', 'completed', 'accepted', 'delivered'];
  const BAD = ['failed', 'locked', 'expired', 'rejected', 'undelivered', 'error', 'refused'];
  const IDLE = ['cancelled', 'draft', 'paused'];
  const tone = (state) =>
    OK.includes(state) ? 'ok' : BAD.includes(state) ? 'bad' : IDLE.includes(state) ? 'idle' : 'live';
  const badge = (state, kind = '') =>
    `<span class="badge ${tone(state)}" data-state="${esc(state)}">${esc(stateWord(kind, state))}</span>`;
  /** Raw codes and details, folded away: what a developer or the vendor asks for. */
  const technical = (content) =>
    `<details class="technical"><summary>${t('technical')}</summary>${content}</details>`;

  let role = null;
  const token = () => sessionStorage.getItem('smspds.token');

  async function api(path, options = {}) {
    const res = await fetch(`/api/v1${path}`, {
      ...options,
      headers: {
        Authorization: `Bearer ${token()}`,
        'Accept-Language': lang,
        'Content-Type': 'application/json',
        ...(options.headers || {}),
      },
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok)
      throw Object.assign(new Error(body.error?.message || res.statusText), {
        status: res.status,
        code: body.error?.code,
      });
    return body;
  }

  function translate() {
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-i18n]').forEach((el) => (el.textContent = t(el.dataset.i18n)));
    document
      .querySelectorAll('[data-i18n-placeholder]')
      .forEach((el) => (el.placeholder = t(el.dataset.i18nPlaceholder)));
    $('#lang').textContent = lang === 'ru' ? 'EN' : 'RU';
  }

  function show(tab) {
    for (const id of ['signin', 'sessions', 'campaigns', 'reports']) $(`#${id}`).hidden = id !== tab;
    document
      .querySelectorAll('#tabs button')
      .forEach((b) => b.classList.toggle('active', b.dataset.tab === tab));
    if (tab === 'campaigns') loadCampaigns();
    if (tab === 'reports') loadReports();
  }

  async function signIn(value) {
    sessionStorage.setItem('smspds.token', value);
    try {
      role = (await api('/whoami')).role;
      if (role !== 'support' && role !== 'admin') throw new Error(t('badToken'));
    } catch {
      sessionStorage.removeItem('smspds.token');
      $('#signin-error').textContent = t('badToken');
      return;
    }
    await loadWords().catch(() => undefined);
    $('#tabs').hidden = false;
    $('#signout').hidden = false;
    show('sessions');
  }

  // ---- sessions ------------------------------------------------------------------------------

  async function search(q) {
    q = q.trim();
    $('#session').hidden = true;
    if (/^(ses|act|att)_\d{8}_[0-9a-z]{12}$/.test(q)) return openSession(q);
    const digits = q.replace(/\D/g, '');
    const looksLikePhone =
      q.startsWith('+') ||
      /[\s()-]/.test(q) ||
      (digits.length === 11 && /^[78]/.test(digits)) ||
      digits.length === 10;
    const queries = [];
    if (looksLikePhone) queries.push(`phone=${encodeURIComponent(q)}`);
    if (/^\d{1,20}$/.test(q)) queries.push(`card=${q}`);
    if (!q) queries.push('');
    const seen = new Map();
    for (const query of queries) {
      try {
        for (const item of (await api(`/sessions?limit=50&${query}`)).items) seen.set(item.id, item);
      } catch (err) {
        $('#search-status').textContent = err.message;
      }
    }
    const items = [...seen.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    $('#search-status').textContent = items.length ? t('found', items.length) : t('nothing');
    $('#results').hidden = !items.length;
    $('#results tbody').innerHTML = items
      .map(
        (s) =>
          `<tr data-id="${esc(s.id)}"><td>${badge(s.state, s.kind)}</td><td>${t(s.kind)}</td><td>${esc(s.phone ?? t('none'))}</td><td>${esc(s.card ?? '')}</td><td>${esc(s.by ?? s.terminal ?? '')}</td><td class="reason">${esc(s.reason ?? '')}</td><td>${when(s.createdAt)}</td></tr>`,
      )
      .join('');
  }

  const machines = {};
  async function machine(kind) {
    machines[kind] ??= (await api(`/machines/${kind}`)).machine;
    return machines[kind];
  }

  /**
   * The workflow's states laid out by dagre (a layered graph layout: edges routed around the
   * boxes, few crossings); the path taken highlighted, where it ended marked.
   */
  function diagram(graph, timeline, current, kind) {
    const W = 150;
    const H = 34;
    const g = new window.dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 16, ranksep: 48, edgesep: 8, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const s of graph.states) g.setNode(s.name, { width: W, height: H });
    const pairs = new Map();
    for (const e of graph.edges) if (e.from !== e.to) pairs.set(`${e.from}>${e.to}`, e);
    for (const e of pairs.values()) g.setEdge(e.from, e.to, { event: e.event });
    window.dagre.layout(g);
    const { width, height } = g.graph();
    const visited = new Set(timeline.map((e) => e.to));
    const taken = new Set(timeline.filter((e) => e.from).map((e) => `${e.from}>${e.to}`));
    const edges = g
      .edges()
      .map((ref) => {
        const e = g.edge(ref);
        const [first, ...rest] = e.points;
        const d = `M${first.x},${first.y} ${rest.map((p) => `L${p.x},${p.y}`).join(' ')}`;
        return `<path class="${taken.has(`${ref.v}>${ref.w}`) ? 'taken' : ''}" d="${d}" marker-end="url(#arrow)"><title>${esc(stepWord(e.event))}</title></path>`;
      })
      .join('');
    const nodes = graph.states
      .map((s) => {
        const n = g.node(s.name);
        const x = n.x - W / 2;
        const y = n.y - H / 2;
        const cls = [
          visited.has(s.name) ? 'visited' : '',
          s.name === current ? 'current' : '',
          s.final ? 'final' : '',
        ].join(' ');
        const label = stateWord(kind, s.name);
        const fit = label.length > 18 ? ` textLength="${W - 12}" lengthAdjust="spacingAndGlyphs"` : '';
        return `<g class="${cls}" data-state="${esc(s.name)}"><title>${esc(label)}</title><rect x="${x}" y="${y}" width="${W}" height="${H}" rx="${s.final ? 14 : 4}"/><text x="${n.x}" y="${n.y}"${fit}>${esc(label)}</text></g>`;
      })
      .join('');
    return `<svg class="diagram" viewBox="0 0 ${width} ${height}" style="min-width:${width}px" role="img" aria-label="${esc(t(kind))}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#98a2b3"/></marker></defs>${edges}${nodes}</svg>`;
  }

  const providerWord = (id) => words?.providers?.[id]?.name ?? id;
  const money = (amount, provider) =>
    amount === null || amount === undefined || amount === ''
      ? ''
      : `${amount} ${words?.providers?.[provider]?.currency ?? ''}`.trim();
  const stepWord = (event) => word('events', event);
  /** An error's sentence with its details filled in (`Осталось попыток: 2`). */
  const errorWord = (code, detail = {}) =>
    String(word('errors', code))
      .replace(/\{(\w+)\}/g, (_, name) => (detail[name] === undefined ? '' : String(detail[name])))
      .replace(/:\s*$/, '');
  const reasonWord = (reason) => {
    const [key, rest] = String(reason).split(/:\s*/, 2);
    const known = words?.reasons?.[key];
    return known ? (rest !== undefined ? `${known}: ${rest}` : known) : reason;
  };

  async function openSession(id) {
    let s;
    try {
      s = (await api(`/sessions/${encodeURIComponent(id)}`)).session;
    } catch (err) {
      $('#search-status').textContent = err.message;
      return;
    }
    const graph = s.kind === 'attempt' ? null : await machine(s.kind);
    const timeline = s.timeline
      .map((e) => {
        const why = e.detail?.reason
          ? reasonWord(e.detail.reason)
          : e.detail?.code
            ? errorWord(e.detail.code, e.detail)
            : '';
        return `<li class="${e.detail?.code ? 'bad' : tone(e.to)}"><time>${when(e.at)}</time><b data-event="${esc(e.event)}">${esc(stepWord(e.event))}</b> → ${badge(e.to, s.kind)} <span class="muted">${t('by')}: ${esc(e.by === 'system' ? word('words', 'system') : e.by)}</span>${why ? ` <span class="why">${esc(why)}</span>` : ''}</li>`;
      })
      .join('');
    const sms = s.sms.length
      ? `<div class="scroll" tabindex="0"><table class="sms"><thead><tr><th>${t('provider')}</th><th>${t('outcome')}</th><th>${t('answer')}</th><th>${t('delivery')}</th><th>${t('segments')}</th><th>${t('cost')}</th></tr></thead><tbody>${s.sms
          .map(
            (a) =>
              `<tr><td>${esc(providerWord(a.provider))}<div class="muted">${when(a.at)}</div></td><td>${badge(a.outcome)}</td><td>${a.error ? esc(a.failure ?? a.error.code) : ''}${a.duplicatePossible ? ` ⚠ ${t('duplicatePossible')}` : ''}${a.mayHaveSent ? ` ⚠ ${t('mayHaveSent')}` : ''}</td><td>${a.outcome === 'failed' ? t('none') : badge(a.status)}</td><td>${esc(a.segments)}</td><td>${esc(money(a.cost, a.provider))}</td></tr>`,
          )
          .join('')}</tbody></table></div>`
      : `<p class="muted">${t('noSms')}</p>`;
    const live = s.live && s.kind !== 'attempt';
    const raw = {
      id: s.id,
      kind: s.kind,
      state: s.state,
      error: s.error,
      details: s.details,
      steps: s.timeline.map((e) => ({ at: e.at, event: e.event, to: e.to, by: e.by, detail: e.detail })),
      sms: s.sms,
    };
    $('#session').innerHTML = `
      <button class="back">${t('back')}</button>
      <h2>${t(s.kind)} ${badge(s.state, s.kind)}</h2>
      <p class="diagnosis" id="diagnosis">${esc(s.diagnosis ?? '')}</p>
      <dl>
        <dt>${t('phone')}</dt><dd>${esc(s.phone ?? t('none'))}</dd>
        <dt>${t('card')}</dt><dd>${esc(s.card ?? t('none'))}</dd>
        <dt>${t('terminal')}</dt><dd>${esc(s.terminal ?? t('none'))}</dd>
        <dt>${t('created')}</dt><dd>${when(s.createdAt)}</dd>
        <dt>${t('updated')}</dt><dd>${when(s.updatedAt)}</dd>
        ${s.deadline ? `<dt>${t('deadline')}</dt><dd>${when(s.deadline)}</dd>` : ''}
        ${s.error ? `<dt>${t('error')}</dt><dd>${esc(errorWord(s.error.code, s.error.extra))}</dd>` : ''}
      </dl>
      ${graph ? `<h2>${t('diagram')}</h2><div class="scroll" tabindex="0">${diagram(graph, s.timeline, s.state, s.kind)}</div>` : ''}
      <div class="grid"><div><h2>${t('timeline')}</h2><ol class="timeline">${timeline}</ol></div><div><h2>${t('sms')}</h2>${sms}</div></div>
      ${technical(`<pre>${esc(JSON.stringify(raw, null, 2))}</pre>`)}
      ${live ? `<div class="actions"><button class="danger" id="cancel-session">${t('cancel')}</button></div>` : ''}`;
    $('#session').hidden = false;
    $('#results').hidden = true;
    $('#session .back').onclick = () => {
      $('#session').hidden = true;
      $('#results').hidden = false;
    };
    const cancel = $('#cancel-session');
    if (cancel) {
      cancel.onclick = async () => {
        await api(`/sessions/${encodeURIComponent(s.id)}/cancel`, {
          method: 'POST',
          body: JSON.stringify({ reason: 'support page' }),
        });
        openSession(s.id);
      };
    }
  }

  // ---- reports -------------------------------------------------------------------------------

  const charts = {};
  const PALETTE = ['#1d7a46', '#b42318', '#b54708', '#475467', '#2e6bd6', '#7a2e9e', '#0e7490', '#98a2b3'];
  /** The venue's today and 13 days before, as the date inputs' defaults. */
  function defaultRange() {
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: words?.timeZone }).format(new Date());
    const from = new Date(Date.parse(today) - 13 * 86400000).toISOString().slice(0, 10);
    return { from, to: today };
  }
  function draw(id, config) {
    charts[id]?.destroy();
    charts[id] = new window.Chart($(`#${id}`), {
      ...config,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { position: 'bottom' } },
        ...config.options,
      },
    });
  }
  const stacked = {
    scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
  };

  async function loadReports() {
    if (!$('#report-from').value) {
      const range = defaultRange();
      $('#report-from').value = range.from;
      $('#report-to').value = range.to;
    }
    const from = $('#report-from').value;
    const to = $('#report-to').value;
    let report;
    try {
      report = await api(`/reports/daily?from=${from}&to=${to}`);
    } catch (err) {
      $('#report-summary').textContent = err.message;
      return;
    }
    const days = report.days;
    const labels = days.map((d) => d.day.slice(5).split('-').reverse().join('.'));
    const keys = (pick) => [...new Set(days.flatMap((d) => Object.keys(pick(d))))];
    const series = (pick, names, label) =>
      names.map((name, i) => ({
        label: label(name),
        data: days.map((d) => pick(d)[name] ?? 0),
        backgroundColor: PALETTE[i % PALETTE.length],
        borderColor: PALETTE[i % PALETTE.length],
      }));
    const sessions = keys((d) => d.auth);
    draw('chart-sessions', {
      type: 'bar',
      data: {
        labels,
        datasets: series(
          (d) => d.auth,
          sessions,
          (k) => stateWord('auth', k),
        ),
      },
      options: stacked,
    });
    const reasons = keys((d) => d.refused);
    draw('chart-refused', {
      type: 'bar',
      data: {
        labels,
        datasets: series(
          (d) => d.refused,
          reasons,
          (k) => errorWord(k),
        ),
      },
      options: stacked,
    });
    const providers = keys((d) => d.sms);
    draw('chart-sms', {
      type: 'bar',
      data: {
        labels,
        datasets: [
          ...providers.map((p, i) => ({
            label: `${providerWord(p)}: ${t('smsCount')}`,
            data: days.map((d) => d.sms[p]?.sent ?? 0),
            backgroundColor: PALETTE[i % PALETTE.length],
            yAxisID: 'count',
          })),
          ...providers.map((p, i) => ({
            type: 'line',
            label: `${providerWord(p)}: ${t('cost')}, ${words?.providers?.[p]?.currency ?? ''}`,
            data: days.map((d) => Number(d.sms[p]?.cost ?? 0)),
            borderColor: PALETTE[(i + 4) % PALETTE.length],
            backgroundColor: PALETTE[(i + 4) % PALETTE.length],
            yAxisID: 'money',
          })),
        ],
      },
      options: {
        scales: {
          count: { position: 'left', beginAtZero: true, ticks: { precision: 0 } },
          money: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } },
        },
      },
    });
    const pct = (x) => (x === null ? null : Math.round(x * 100));
    draw('chart-rates', {
      type: 'line',
      data: {
        labels,
        datasets: [
          {
            label: t('verifiedShare'),
            data: days.map((d) => pct(d.verifiedShare)),
            borderColor: PALETTE[0],
            backgroundColor: PALETTE[0],
            spanGaps: true,
          },
          {
            label: t('deliveryRate'),
            data: days.map((d) => pct(d.deliveryRate)),
            borderColor: PALETTE[4],
            backgroundColor: PALETTE[4],
            spanGaps: true,
          },
        ],
      },
      options: { scales: { y: { min: 0, max: 100 } } },
    });
    draw('chart-campaigns', {
      type: 'bar',
      data: {
        labels,
        datasets: series(
          (d) => ({ sent: d.campaign.sent, failed: d.campaign.failed, skipped: d.campaign.skipped }),
          ['sent', 'failed', 'skipped'],
          (k) => t(k),
        ),
      },
      options: stacked,
    });
    const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
    $('#report-summary').textContent = t(
      'reportSummary',
      days.length,
      days.reduce((n, d) => n + sum(d.auth), 0),
      days.reduce((n, d) => n + sum(d.refused), 0),
    );
  }

  async function downloadCsv() {
    const from = $('#report-from').value;
    const to = $('#report-to').value;
    const res = await fetch(`/api/v1/reports/daily?from=${from}&to=${to}&format=csv`, {
      headers: { Authorization: `Bearer ${token()}` },
    });
    if (!res.ok) return;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await res.blob());
    link.download = `smspds-${from}-${to}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
  }

  // ---- campaigns -----------------------------------------------------------------------------

  const progress = (c) => {
    const k = c.counts;
    const done = k.sent + k.delivered + k.failed + k.skipped + k.unknown;
    const pct = k.total ? Math.round((done / k.total) * 100) : 0;
    return `<div class="progress" title="${pct}%"><span style="width:${pct}%"></span></div><small class="muted">${done}/${k.total}</small>`;
  };

  async function loadCampaigns() {
    $('#campaign').hidden = true;
    const { items } = await api('/campaigns?limit=100');
    $('#campaign-list').innerHTML =
      `<table><thead><tr><th>${t('state')}</th><th>${t('campaigns')}</th><th>${t('progress')}</th><th>${t('sent')}</th><th>${t('failed')}</th><th>${t('nextRun')}</th></tr></thead><tbody>${items
        .map(
          (c) =>
            `<tr data-campaign="${esc(c.id)}"><td>${badge(c.state, 'campaign')}</td><td>${esc(c.name)}</td><td>${progress(c)}</td><td>${c.counts.sent + c.counts.delivered}</td><td>${c.counts.failed}</td><td>${when(c.nextRunAt)}</td></tr>`,
        )
        .join('')}</tbody></table>`;
  }

  /** A question with Yes / No in a modal dialog; resolves true on Yes. */
  function confirmDialog(text) {
    return new Promise((done) => {
      const dialog = document.createElement('dialog');
      dialog.className = 'confirm';
      dialog.innerHTML = `<p>${esc(text)}</p><div class="actions"><button class="danger" value="yes">${t('yes')}</button><button value="no">${t('no')}</button></div>`;
      document.body.append(dialog);
      dialog.querySelectorAll('button').forEach(
        (b) =>
          (b.onclick = () => {
            dialog.close();
            dialog.remove();
            done(b.value === 'yes');
          }),
      );
      dialog.addEventListener('cancel', () => {
        dialog.remove();
        done(false);
      });
      dialog.showModal();
    });
  }

  const RECIPIENT_STATES = ['queued', 'sent', 'delivered', 'failed', 'skipped', 'unknown'];

  /** One page of a run's recipients in the campaign's table, filtered by status. */
  async function loadRecipients(c, status, cursor, append) {
    const query = `limit=100${status ? `&status=${status}` : ''}${cursor ? `&cursor=${cursor}` : ''}`;
    const page = await api(`/campaigns/${encodeURIComponent(c.id)}/recipients?${query}`);
    const cancelled = c.state === 'cancelled';
    const rows = page.items
      .map((r) => {
        const untouched = cancelled && (r.status === 'queued' || r.status === 'sending');
        const state = untouched
          ? `<span class="badge idle" data-state="${esc(r.status)}">${t('notSentCancelled')}</span>`
          : `<span class="badge ${tone(r.status)}" data-state="${esc(r.status)}">${esc(word('recipients', r.status))}</span>`;
        const note = r.reason ? reasonWord(r.reason) : '';
        return `<tr><td>${esc(r.phone)}</td><td>${esc(r.card)}</td><td>${state}</td><td>${esc(note)}</td></tr>`;
      })
      .join('');
    const body = $('#recipients tbody');
    body.innerHTML = append ? body.innerHTML + rows : rows;
    const more = $('#recipients-more');
    more.hidden = !page.nextCursor;
    more.onclick = () => loadRecipients(c, status, page.nextCursor, true);
  }

  async function openCampaign(id) {
    const c = (await api(`/campaigns/${encodeURIComponent(id)}`)).campaign;
    const k = c.counts;
    const reasons =
      Object.entries(c.skippedReasons)
        .map(([r, n]) => `<li>${esc(reasonWord(r))}: ${n}</li>`)
        .join('') || `<li class="muted">${t('none')}</li>`;
    const admin = role === 'admin';
    // What holds the run up, in the provider's words: a pause, or a wait for the provider.
    const last = c.runs?.at(-1);
    const why = last?.error ? esc(last.error.extra?.reason ?? last.error.code) : null;
    const held = !why
      ? ''
      : c.state === 'paused'
        ? `${t('halted')}: ${why}${last.awaitingRetry ? `; ${last.awaitingRetry} ${t('awaitingRetry')}` : ''}`
        : c.state === 'running' && last.wakeAt
          ? `${t('waitingProvider')} ${when(last.wakeAt)}: ${why}`
          : '';
    const provider = c.provider ?? Object.keys(words?.providers ?? {}).find((p) => p !== 'console') ?? '';
    const queued =
      c.state === 'cancelled'
        ? `<dt>${t('notSentCancelled')}</dt><dd>${k.queued}</dd>`
        : `<dt>${t('queued')}</dt><dd>${k.queued}</dd>`;
    const actions = [
      ['draft', 'start'],
      ['scheduled', 'start'],
      ['running', 'pause'],
      ['paused', 'resume'],
    ]
      .filter(([state]) => state === c.state)
      .map(([, act]) => `<button data-act="${act}">${t(act)}</button>`);
    if (['running', 'paused', 'scheduled', 'draft'].includes(c.state))
      actions.push(`<button class="danger" data-act="cancel">${t('cancelCampaign')}</button>`);
    $('#campaign').innerHTML = `
      <button class="back">${t('back')}</button>
      <h2>${esc(c.name)} ${badge(c.state, 'campaign')}</h2>
      ${held ? `<p class="error" id="campaign-halt">${held}</p>` : ''}
      ${progress(c)}
      <dl>
        <dt>${t('total')}</dt><dd>${k.total}</dd><dt>${t('sent')}</dt><dd>${k.sent + k.delivered}</dd>
        <dt>${t('failed')}</dt><dd>${k.failed}</dd><dt>${t('skipped')}</dt><dd>${k.skipped}</dd>
        <dt>${t('unknown')}</dt><dd>${k.unknown}</dd>${queued}
        <dt>${t('cost')}</dt><dd>${esc(money(c.cost.actual, provider))}</dd><dt>${t('nextRun')}</dt><dd>${when(c.nextRunAt)}</dd>
      </dl>
      <h2>${t('reasons')}</h2><ul>${reasons}</ul>
      ${admin && actions.length ? `<div class="actions">${actions.join('')}</div>` : ''}
      <h2>${t('recipients')}</h2>
      <form id="recipient-filter" class="range"><label for="recipient-status">${t('filter')}</label>
        <select id="recipient-status"><option value="">${t('all')}</option>${RECIPIENT_STATES.map((st) => `<option value="${st}">${esc(word('recipients', st))}</option>`).join('')}</select></form>
      <div class="scroll" tabindex="0"><table id="recipients"><thead><tr><th>${t('phone')}</th><th>${t('card')}</th><th>${t('state')}</th><th>${t('reason')}</th></tr></thead><tbody></tbody></table></div>
      <button id="recipients-more" hidden>${t('more')}</button>`;
    $('#campaign').hidden = false;
    $('#campaign .back').onclick = loadCampaigns;
    $('#recipient-status').onchange = (e) => loadRecipients(c, e.target.value, null, false);
    await loadRecipients(c, '', null, false);
    const ask = {
      start: 'confirmStart',
      pause: 'confirmPause',
      resume: 'confirmResume',
      cancel: 'confirmCancel',
    };
    document.querySelectorAll('#campaign [data-act]').forEach((b) => {
      b.onclick = async () => {
        if (!(await confirmDialog(t(ask[b.dataset.act]).replace('{name}', c.name)))) return;
        await api(`/campaigns/${encodeURIComponent(id)}/${b.dataset.act}`, { method: 'POST', body: '{}' });
        openCampaign(id);
      };
    });
  }

  // ---- wiring --------------------------------------------------------------------------------

  $('#signin-form').onsubmit = (e) => {
    e.preventDefault();
    signIn($('#token').value.trim());
  };
  $('#signout').onclick = () => {
    sessionStorage.removeItem('smspds.token');
    location.reload();
  };
  $('#lang').onclick = async () => {
    lang = lang === 'ru' ? 'en' : 'ru';
    sessionStorage.setItem('smspds.lang', lang);
    translate();
    if (token()) await loadWords().catch(() => undefined);
  };
  document.querySelectorAll('#tabs button').forEach((b) => (b.onclick = () => show(b.dataset.tab)));
  $('#report-form').onsubmit = (e) => {
    e.preventDefault();
    loadReports();
  };
  $('#report-csv').onclick = (e) => {
    e.preventDefault();
    downloadCsv();
  };
  $('#search-form').onsubmit = (e) => {
    e.preventDefault();
    search($('#search').value);
  };
  $('#results tbody').onclick = (e) => {
    const row = e.target.closest('tr[data-id]');
    if (row) openSession(row.dataset.id);
  };
  $('#campaign-list').onclick = (e) => {
    const row = e.target.closest('tr[data-campaign]');
    if (row) openCampaign(row.dataset.campaign);
  };
  translate();
  if (token()) signIn(token());
})();
