// Framegate dashboard: live job progress (server-sent events) and synchronized A/B playback.
(() => {
  "use strict";

  function showClip(el, job) {
    const thumb = el.querySelector("[data-thumb]");
    if (!thumb || job.status !== "completed") return;
    const video = document.createElement("video");
    video.src = `/media/${job.id}`;
    video.poster = `/media/${job.id}?variant=thumbnail`;
    Object.assign(video, { muted: true, loop: true, playsInline: true, preload: "none" });
    if (thumb.tagName !== "CODE") { thumb.replaceWith(video); return; }
    // A jobs row: the clip as the server renders it, with its "open clip" link.
    video.className = "thumb";
    const link = document.createElement("a");
    Object.assign(link, { href: `/media/${job.id}`, target: "_blank", rel: "noopener", className: "small" });
    link.textContent = "open clip";
    thumb.replaceWith(video, document.createElement("br"), link);
  }

  // A message (flash, warning or error) arrives in the URL of the redirect after a form. Take it out
  // of the address once shown, so that the user's reload does not repeat it; our own reload, when the
  // jobs settle, keeps it on screen (a regeneration warning must not vanish with the job's end).
  let messageUrl = null;
  function forgetMessage() {
    const url = new URL(window.location.href);
    const names = ["flash", "flash_sig", "error", "error_sig", "warning", "warning_sig"];
    if (!names.some((n) => url.searchParams.has(n))) return;
    messageUrl = url.href;
    names.forEach((n) => url.searchParams.delete(n));
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }

  function settled() {
    if (messageUrl) window.location.replace(messageUrl);
    else window.location.reload();
  }

  // The prompt just generated stays in the box: the next take is usually a small change of it.
  function keepPrompt() {
    const form = document.querySelector('form[action="/jobs"]');
    const input = form && form.querySelector("input[name=prompt]");
    if (!input) return;
    form.addEventListener("submit", () => sessionStorage.setItem("framegate.prompt", input.value));
    if (!input.value) input.value = sessionStorage.getItem("framegate.prompt") || "";
  }

  function liveJobs() {
    const rows = document.querySelectorAll("[data-job]");
    if (!rows.length || !window.EventSource) return;
    // The rows still running when the page was made: followed even if they end before the stream
    // opens (a cancel's redirect lands here just as the job stops), so each gets its final state.
    const running = Array.from(rows)
      .filter((el) => ["queued", "in_progress"].includes((el.querySelector("[data-status]") || {}).textContent))
      .map((el) => el.dataset.job);
    const source = new EventSource(running.length ? `/events?watch=${running.join(",")}` : "/events");
    source.addEventListener("job", (event) => {
      const job = JSON.parse(event.data);
      document.querySelectorAll(`[data-job="${job.id}"]`).forEach((el) => {
        const fill = el.querySelector("[data-progress]");
        if (fill) fill.style.width = `${job.status === "completed" ? 100 : job.progress}%`;
        const status = el.querySelector("[data-status]");
        if (status) status.textContent = job.status;
        const cost = el.querySelector("[data-cost]");
        if (cost && job.cost !== null) {
          const refunded = job.billing && job.billing.refunded;
          cost.textContent = refunded ? `${job.cost} (refunded ${refunded})` : job.cost;
        }
        if (job.status === "completed" || job.status === "failed") {
          el.dataset.done = job.status;
          // A finished job cannot be cancelled.
          el.querySelectorAll("[data-cancel]").forEach((form) => form.remove());
          if (!document.querySelector("[data-job]:not([data-done]) [data-status]")) {
            // Every job on the page has settled: reload for the settled costs, QC and winner buttons.
            setTimeout(settled, 900);
          } else {
            showClip(el, job);  // others still run: show this clip in place
          }
        }
      });
    });
  }

  function syncTakes() {
    document.querySelectorAll("[data-ab]").forEach((group) => {
      const videos = Array.from(group.querySelectorAll("video"));
      const play = group.querySelector("[data-ab-play]");
      const scrub = group.querySelector("[data-ab-scrub]");
      if (!videos.length) return;
      let playing = false;
      play.addEventListener("click", () => {
        playing = !playing;
        videos.forEach((v) => { if (playing) { v.currentTime = videos[0].currentTime; v.play(); } else v.pause(); });
        play.textContent = playing ? "Pause all" : "Play all";
        group.dataset.playing = playing ? "yes" : "no";
      });
      scrub.addEventListener("input", () => {
        videos.forEach((v) => { if (v.duration) v.currentTime = (scrub.value / 1000) * v.duration; });
      });
      videos[0].addEventListener("timeupdate", () => {
        const v = videos[0];
        if (v.duration) scrub.value = Math.round((v.currentTime / v.duration) * 1000);
        videos.slice(1).forEach((o) => { if (Math.abs(o.currentTime - v.currentTime) > 0.15) o.currentTime = v.currentTime; });
      });
      videos.forEach((v) => v.addEventListener("ended", () => {
        if (playing) videos.forEach((o) => { o.currentTime = 0; o.play(); });
      }));
      reviewControls(group, videos, () => {
        playing = false;
        play.textContent = "Play all";
        group.dataset.playing = "no";
      });
    });
  }

  // The seed's review advice: watch at half speed, step frame by frame, see where each flag is.
  function reviewControls(group, videos, paused) {
    const speed = group.querySelector("[data-ab-speed]");
    const counter = group.querySelector("[data-ab-frame]");
    const fps = (v) => Number(v.dataset.fps) || 8;
    const frameOf = (v) => Math.floor(v.currentTime * fps(v) + 1e-3);
    const show = () => {
      counter.textContent = `frame ${frameOf(videos[0]) + 1}`;
      videos.forEach((v) => {
        const badge = v.parentElement.querySelector("[data-flag-now]");
        if (!badge) return;
        const frame = frameOf(v);
        const here = JSON.parse(v.dataset.flags || "[]").filter((f) => f.frames[0] <= frame && frame <= f.frames[1]);
        badge.textContent = here.map((f) => f.code.replaceAll("_", " ")).join(" · ");
        badge.hidden = !here.length;
      });
    };
    speed.addEventListener("click", () => {
      const half = speed.getAttribute("aria-pressed") !== "true";
      speed.setAttribute("aria-pressed", half ? "true" : "false");
      videos.forEach((v) => { v.playbackRate = half ? 0.5 : 1; v.defaultPlaybackRate = v.playbackRate; });
    });
    group.querySelectorAll("[data-ab-step]").forEach((button) => button.addEventListener("click", () => {
      videos.forEach((v) => v.pause());
      paused();
      const step = Number(button.dataset.abStep);
      const frame = Math.max(0, frameOf(videos[0]) + step);
      // Aim at the middle of the frame: seeking to its exact start can land on the one before.
      videos.forEach((v) => { v.currentTime = Math.min(v.duration || Infinity, (frame + 0.5) / fps(v)); });
      setTimeout(show, 50);
    }));
    videos.forEach((v) => { v.addEventListener("timeupdate", show); v.addEventListener("seeked", show); });
  }

  document.addEventListener("DOMContentLoaded", () => { forgetMessage(); keepPrompt(); liveJobs(); syncTakes(); });
})();
