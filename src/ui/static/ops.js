/*
 * ops.js — the Ingest and Indexes pages' script (served from the binary,
 * loaded before Alpine so its components register at alpine:init).
 *
 * - dropZone (Alpine.js, CSP build): a file dropped on the zone goes into
 *   the form's file input; its name and size show; one over the upload
 *   limit (the form's data-max-bytes) is refused before it is sent.
 * - jobs: a form with data-job="#box" names its request with a random job
 *   id (field "job"), listens to GET /ui/jobs/{id}/events (server-sent
 *   events) and moves the box's <progress> with each event: upload first
 *   (from the request itself), then the server's progress, then "done".
 *   The box records how many progress events fell strictly between 0 and 1
 *   (data-intermediate) and its final state (data-state).
 * - a refusal (4xx/5xx) of such a form is shown in its result area: HTML
 *   error boxes as the server wrote them, JSON errors (413 from the server's
 *   upload limit) as text.
 */
(function () {
  'use strict';

  function mib(n) {
    if (n < 1024) return n + ' bytes';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }

  function newJobId() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function label(d) {
    var pct = Math.round(d.done * 100) + '%';
    if (d.total > 0) return (d.what || 'working') + ': ' + pct + ' (' + mib(d.bytes) + ' of ' + mib(d.total) + ')';
    return (d.what || 'working') + ': ' + pct;
  }

  /* Listens to job id's events, moving the box's bar; returns the listener. */
  function watch(box, id) {
    var bar = box.querySelector('progress'), status = box.querySelector('.job-status');
    box.hidden = false;
    bar.value = 0;
    box.setAttribute('data-state', 'running');
    box.setAttribute('data-intermediate', '0');
    status.textContent = 'sending…';
    var es = new EventSource('/ui/jobs/' + id + '/events');
    var job = { es: es, box: box, events: 0, closed: false };
    job.close = function () { if (!job.closed) { job.closed = true; es.close(); } };
    es.addEventListener('progress', function (ev) {
      var d = JSON.parse(ev.data);
      job.events++;
      bar.value = Math.round(d.done * 100);
      if (d.done > 0 && d.done < 1)
        box.setAttribute('data-intermediate', String(Number(box.getAttribute('data-intermediate')) + 1));
      status.textContent = label(d);
    });
    es.addEventListener('done', function (ev) {
      var d = JSON.parse(ev.data);
      job.close();
      box.setAttribute('data-state', d.state);
      if (d.state === 'done') {
        bar.value = 100;
        status.textContent = 'done' + (d.version ? ': v' + d.version : '');
      } else {
        status.textContent = 'failed';
      }
    });
    /* a stream ends every few seconds and EventSource reconnects (Last-Event-ID:
     * the server goes on from there); a refused one (404, 503) is CLOSED */
    es.onerror = function () { if (es.readyState === EventSource.CLOSED) job.close(); };
    return job;
  }

  document.addEventListener('htmx:configRequest', function (e) {
    var form = e.detail.elt;
    if (!form.matches || !form.matches('form[data-job]')) return;
    var box = document.querySelector(form.getAttribute('data-job'));
    if (!box) return;
    if (form._job) form._job.close();
    var id = newJobId();
    e.detail.formData.set('job', id);
    form._job = watch(box, id);
  });

  document.addEventListener('htmx:xhr:progress', function (e) {
    var form = e.target;
    if (!form._job || form._job.events || !e.detail.lengthComputable || !e.detail.total) return;
    form._job.box.querySelector('.job-status').textContent =
      'uploading: ' + Math.round(100 * e.detail.loaded / e.detail.total) + '%';
  });

  /* The job's events end with "done"; a refused request never starts a job. */
  document.addEventListener('htmx:afterRequest', function (e) {
    var form = e.target, job = form._job;
    if (!job) return;
    if (e.detail.xhr && e.detail.xhr.status >= 400) {
      job.close();
      job.box.setAttribute('data-state', 'refused');
      job.box.querySelector('.job-status').textContent = 'refused';
    } else {
      window.setTimeout(job.close, 5000); /* an untracked job sends no "done" */
    }
  });

  document.addEventListener('htmx:beforeSwap', function (e) {
    var form = e.detail.requestConfig && e.detail.requestConfig.elt; /* detail.elt is the target here */
    if (!form || !form.matches || !form.matches('form[data-job]') || e.detail.xhr.status < 400) return;
    e.detail.shouldSwap = true;
    e.detail.isError = false;
    var type = e.detail.xhr.getResponseHeader('Content-Type') || '';
    if (type.indexOf('application/json') === 0) {
      var message = 'HTTP ' + e.detail.xhr.status;
      try { message = JSON.parse(e.detail.xhr.responseText).error.message; } catch (err) { /* keep the status */ }
      e.detail.serverResponse = '<div class="error" role="alert"><pre>' + escapeHtml(message) + '</pre></div>';
    }
  });

  document.addEventListener('alpine:init', function () {
    window.Alpine.data('dropZone', function () {
      return {
        zoneClass: '',
        fileName: '',
        input: function () { return this.$root.querySelector('input[type=file]'); },
        over: function (e) { e.preventDefault(); this.zoneClass = 'dragging'; },
        leave: function () { this.zoneClass = ''; },
        drop: function (e) {
          e.preventDefault();
          this.zoneClass = '';
          if (!e.dataTransfer || !e.dataTransfer.files.length) return;
          this.input().files = e.dataTransfer.files;
          this.picked();
        },
        picked: function () {
          var input = this.input(), f = input.files[0];
          var form = input.form, max = Number(form && form.getAttribute('data-max-bytes'));
          this.fileName = f ? f.name + ' (' + mib(f.size) + ')' : '';
          input.setCustomValidity(f && max && f.size > max ? 'This file is larger than the upload limit (' + mib(max) + ').' : '');
          input.reportValidity();
        }
      };
    });
  });
})();
