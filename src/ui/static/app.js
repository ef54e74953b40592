/*
 * app.js — the web UI's own script (served from the binary; no inline
 * script is allowed by the page's Content-Security-Policy).
 *
 * - every htmx request carries the page's CSRF token (X-CSRF-Token);
 * - Ctrl+Enter (Cmd+Enter) in the SQL editor runs it;
 * - an SQL error's place is selected in the editor;
 * - chartPanel (Alpine.js, CSP build): draws a result's chart with Chart.js,
 *   bar / line / scatter chosen from the column types, switchable.
 */
(function () {
  'use strict';

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }

  document.addEventListener('htmx:configRequest', function (e) {
    e.detail.headers['X-CSRF-Token'] = csrfToken();
  });

  document.addEventListener('keydown', function (e) {
    if (e.key !== 'Enter' || !(e.ctrlKey || e.metaKey)) return;
    var t = e.target;
    if (!t || t.id !== 'sql' || !t.form) return;
    e.preventDefault();
    t.form.requestSubmit();
  });

  /* The engine's error points at a byte of the statement: select it in the editor. */
  function markError() {
    var box = document.querySelector('#sql-result[data-error-offset]'), editor = document.getElementById('sql');
    if (!box || !editor) return;
    var want = Number(box.getAttribute('data-error-offset')), bytes = 0, i = 0, text = editor.value;
    while (i < text.length && bytes < want) {
      var c = text.codePointAt(i);
      bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      i += c >= 0x10000 ? 2 : 1;
    }
    var end = i;
    while (end < text.length && /[A-Za-z0-9_]/.test(text[end])) end++;
    editor.focus();
    editor.setSelectionRange(i, Math.max(end, i + 1));
  }
  document.addEventListener('htmx:afterSwap', markError);
  document.addEventListener('DOMContentLoaded', markError);

  var NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/;
  var TEMPORAL = /^(DATE|TIME|TIMESTAMP.*)$/;

  /* The chart a result suggests: x from the first column, y from the numeric others. */
  function plan(data, kind) {
    var cols = data.columns, rows = data.rows;
    var ys = [];
    for (var i = 1; i < cols.length; i++) if (NUMERIC.test(cols[i].type)) ys.push(i);
    if (!ys.length) return null;
    var xNumeric = NUMERIC.test(cols[0].type), xTime = TEMPORAL.test(cols[0].type);
    if (kind === 'auto') kind = xNumeric ? 'scatter' : xTime ? 'line' : 'bar';
    var datasets = ys.map(function (j) {
      return {
        label: cols[j].name,
        data: rows.map(function (r) {
          var y = r[j] === null ? null : Number(r[j]); /* a gap, not a zero */
          return kind === 'scatter' ? { x: Number(r[0]), y: y } : y;
        })
      };
    });
    return {
      type: kind,
      data: { labels: kind === 'scatter' ? undefined : rows.map(function (r) { return String(r[0]); }), datasets: datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
                 scales: kind === 'scatter' ? { x: { type: 'linear', title: { display: true, text: cols[0].name } } } : {} }
    };
  }

  document.addEventListener('alpine:init', function () {
    window.Alpine.data('chartPanel', function () {
      return {
        chart: null,
        init: function () { this.draw(); },
        destroy: function () { if (this.chart) this.chart.destroy(); },
        draw: function () {
          var data = JSON.parse(this.$root.getAttribute('data-chart'));
          var cfg = plan(data, this.$root.querySelector('select').value);
          if (this.chart) { this.chart.destroy(); this.chart = null; }
          if (!cfg || !window.Chart) return;
          this.chart = new window.Chart(this.$root.querySelector('canvas'), cfg);
          this.$root.setAttribute('data-drawn', cfg.type);
        }
      };
    });
  });
})();
