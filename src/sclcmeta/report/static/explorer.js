/* sclcmeta live prior explorer: the exact posterior of the normal-normal random-effects model, in the page.
 *
 * Model (the same as sclcmeta.engine.exact for a pairwise random-effects analysis):
 *   y_i ~ N(theta_i, se_i^2),  theta_i ~ N(mu, tau^2),  mu ~ N(m0, s0^2),  tau ~ p(tau).
 * Given tau the model is Gaussian, so mu is integrated in closed form:
 *   w_i = 1 / (se_i^2 + tau^2),  V(tau) = 1 / (1/s0^2 + sum w_i),  M(tau) = V (m0/s0^2 + sum w_i y_i),
 *   log p(y | tau) = -1/2 [sum log(se_i^2 + tau^2) + sum w_i y_i^2 + m0^2/s0^2 - M^2/V + log(1/V) - log(1/s0^2)]
 * and tau is integrated numerically (trapezoid rule on a grid that follows the posterior mass, in two passes:
 * locate the mass on a coarse map of [0, inf), then 1500 nodes spaced evenly in log(tau - lo + knee) over it).
 * The posterior of mu is then the normal mixture sum_g w_g N(M_g, V_g): its CDF, quantiles (bisection) and
 * density are exact up to the quadrature.  No library, no network access.
 */
(function () {
  "use strict";
  var SQRT2 = Math.SQRT2, SQRTPI = Math.sqrt(Math.PI);

  /* erfc for x >= 0: a positive power series (no cancellation) below 3, a continued fraction above. */
  function erfcPos(x) {
    if (x < 3) {
      var term = x, sum = x, n = 0, x2 = x * x;
      while (term > 1e-17 * sum) { n += 1; term *= 2 * x2 / (2 * n + 1); sum += term; }
      return 1 - 2 / SQRTPI * Math.exp(-x2) * sum;
    }
    var f = 0;                                   // erfc(x) = e^{-x^2}/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
    for (var k = 60; k >= 1; k--) f = (k / 2) / (x + f);
    return Math.exp(-x * x) / SQRTPI / (x + f);
  }
  /* standard normal CDF */
  function Phi(z) {
    return z < 0 ? 0.5 * erfcPos(-z / SQRT2) : 1 - 0.5 * erfcPos(z / SQRT2);
  }

  /* log density of the heterogeneity prior (density of tau, as sclcmeta.priors.Prior.logpdf) */
  function tauLogPrior(p, t) {
    if (p.family === "half_normal") return t < 0 ? -Infinity : Math.log(2 / (p.scale * Math.sqrt(2 * Math.PI))) - 0.5 * (t / p.scale) * (t / p.scale);
    if (p.family === "half_cauchy") return t < 0 ? -Infinity : Math.log(2 / (Math.PI * p.scale)) - Math.log(1 + (t / p.scale) * (t / p.scale));
    if (p.family === "uniform") return (t >= p.lower && t <= p.upper) ? -Math.log(p.upper - p.lower) : -Infinity;
    if (p.family === "log_normal") {                     // log(tau^2) ~ N(mu, sigma^2)
      if (t <= 0) return -Infinity;
      var l = 2 * Math.log(t), z = (l - p.mu) / p.sigma;
      return -0.5 * z * z - Math.log(p.sigma * Math.sqrt(2 * Math.PI)) - l + Math.log(2 * t);
    }
    throw new Error("unknown heterogeneity prior family " + p.family);
  }

  function conditional(y, se, m0, s0, t) {
    var p0 = 1 / (s0 * s0), sw = 0, swy = 0, swyy = 0, sld = 0;
    for (var i = 0; i < y.length; i++) {
      var v = se[i] * se[i] + t * t, w = 1 / v;
      sw += w; swy += w * y[i]; swyy += w * y[i] * y[i]; sld += Math.log(v);
    }
    var lam = p0 + sw, V = 1 / lam, M = V * (m0 * p0 + swy);
    var ll = -0.5 * (sld + swyy + m0 * m0 * p0 - M * M * lam + Math.log(lam) - Math.log(p0));
    return [ll, M, V];
  }

  function gridPass(data, prior, nodes) {
    var G = nodes.length, lp = new Array(G), M = new Array(G), V = new Array(G), wid = new Array(G), mx = -Infinity, g;
    for (g = 0; g < G; g++) wid[g] = 0;
    for (g = 0; g < G - 1; g++) { var d = (nodes[g + 1] - nodes[g]) / 2; wid[g] += d; wid[g + 1] += d; }
    for (g = 0; g < G; g++) {
      var c = conditional(data.y, data.se, prior.effect.mean, prior.effect.sd, nodes[g]);
      M[g] = c[1]; V[g] = c[2];
      lp[g] = c[0] + tauLogPrior(prior.tau, nodes[g]) + Math.log(wid[g]);
      if (!(lp[g] > -Infinity)) lp[g] = -Infinity;
      if (lp[g] > mx) mx = lp[g];
    }
    var w = new Array(G), s = 0;
    for (g = 0; g < G; g++) { w[g] = lp[g] === -Infinity ? 0 : Math.exp(lp[g] - mx); s += w[g]; }
    for (g = 0; g < G; g++) w[g] /= s;
    return { tau: nodes, w: w, m: M, v: V };
  }

  function upperOf(p) { return p.family === "uniform" ? p.upper : Infinity; }

  function solve(data, prior) {
    var scale = sd(data.y) + median(data.se), upper = upperOf(prior.tau), lower = prior.tau.family === "uniform" ? prior.tau.lower : 0;
    var first = [], n1 = 400, i;
    for (i = 0; i < n1; i++) { var u = i / n1, x = lower + scale * u / ((1 - u) * (1 - u)); if (x < upper) first.push(x); }
    if (isFinite(upper)) first.push(upper);
    var p1 = gridPass(data, prior, first);
    var c = 0, lo = first[0], hi = first[first.length - 1], q10 = lo, j;
    for (j = 0; j < first.length; j++) {                 // range holding all but 1e-10 of the mass
      var before = c; c += p1.w[j];
      if (before <= 1e-10 && c > 1e-10) lo = first[Math.max(j - 1, 0)];
      if (before <= 0.1 && c > 0.1) q10 = first[j];
      if (before < 1 - 1e-12 && c >= 1 - 1e-12) { hi = first[Math.min(j + 1, first.length - 1)]; break; }
    }
    if (lo <= first[1]) lo = first[0];
    var knee = Math.max(q10 - lo, (hi - lo) * 1e-4, 1e-9), n2 = 1500, nodes = [];
    var a = Math.log(knee), b = Math.log(hi - lo + knee);
    for (i = 0; i < n2; i++) nodes.push(lo + Math.exp(a + (b - a) * i / (n2 - 1)) - knee);
    nodes[0] = lo; nodes[n2 - 1] = hi;
    return gridPass(data, prior, nodes);
  }

  function sd(a) { var m = 0, s = 0; a.forEach(function (v) { m += v; }); m /= a.length; a.forEach(function (v) { s += (v - m) * (v - m); }); return Math.sqrt(s / a.length); }
  function median(a) { var b = a.slice().sort(function (x, y) { return x - y; }), n = b.length; return n % 2 ? b[(n - 1) / 2] : (b[n / 2 - 1] + b[n / 2]) / 2; }

  function cdf(post, x) { var s = 0; for (var g = 0; g < post.w.length; g++) if (post.w[g] > 0) s += post.w[g] * Phi((x - post.m[g]) / Math.sqrt(post.v[g])); return s; }
  function pdf(post, x) {
    var s = 0;
    for (var g = 0; g < post.w.length; g++) if (post.w[g] > 0) { var sg = Math.sqrt(post.v[g]), z = (x - post.m[g]) / sg; s += post.w[g] * Math.exp(-0.5 * z * z) / (sg * Math.sqrt(2 * Math.PI)); }
    return s;
  }
  function support(post) {
    var lo = Infinity, hi = -Infinity;
    for (var g = 0; g < post.w.length; g++) if (post.w[g] > 1e-14) { var s = Math.sqrt(post.v[g]); lo = Math.min(lo, post.m[g] - 12 * s); hi = Math.max(hi, post.m[g] + 12 * s); }
    return [lo, hi];
  }
  function quantile(post, q) {
    var r = support(post), lo = r[0], hi = r[1];
    for (var it = 0; it < 80; it++) { var mid = 0.5 * (lo + hi); if (cdf(post, mid) < q) lo = mid; else hi = mid; }
    return 0.5 * (lo + hi);
  }
  function summarize(post) {
    var tauMed = 0, c = 0;
    for (var g = 0; g < post.w.length; g++) { c += post.w[g]; if (c >= 0.5) { tauMed = post.tau[g]; break; } }
    return { median: quantile(post, 0.5), lo: quantile(post, 0.025), hi: quantile(post, 0.975),
             p1: cdf(post, 0), p08: cdf(post, Math.log(0.8)), tau_median: tauMed };
  }

  /* ---------- the page: one explorer per <div class="explorer" data-model="{json}"> ---------- */
  function fmt(x, d) { return x.toFixed(d === undefined ? 2 : d); }

  function draw(svg, post, s, prior) {
    var W = 560, H = 190, L = 8, R = 8, T = 10, B = 30;
    var xlo = Math.log(0.1), xhi = Math.log(3), n = 240, xs = [], ys = [], ymax = 0, i;
    for (i = 0; i <= n; i++) { var x = xlo + (xhi - xlo) * i / n; xs.push(x); var v = pdf(post, x); ys.push(v); ymax = Math.max(ymax, v); }
    var px = function (x) { return L + (W - L - R) * (x - xlo) / (xhi - xlo); };
    var py = function (v) { return H - B - (H - B - T) * v / (ymax || 1); };
    var pts = xs.map(function (x, k) { return px(x).toFixed(1) + "," + py(ys[k]).toFixed(1); }).join(" ");
    var pri = xs.map(function (x) { var z = (x - prior.effect.mean) / prior.effect.sd; return Math.exp(-0.5 * z * z) / (prior.effect.sd * Math.sqrt(2 * Math.PI)); });
    var pmax = Math.max.apply(null, pri), psc = pmax > ymax ? ymax / pmax : 1;
    var ppts = xs.map(function (x, k) { return px(x).toFixed(1) + "," + py(pri[k] * psc).toFixed(1); }).join(" ");
    var ticks = [0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3], out = [];
    out.push("<rect x='" + px(s.lo).toFixed(1) + "' y='" + T + "' width='" + (px(s.hi) - px(s.lo)).toFixed(1) + "' height='" + (H - B - T) + "' fill='#dbe8f7'/>");
    out.push("<line x1='" + px(0) + "' x2='" + px(0) + "' y1='" + T + "' y2='" + (H - B) + "' stroke='#888' stroke-dasharray='4 3'/>");
    out.push("<polyline points='" + ppts + "' fill='none' stroke='#999' stroke-width='1.2' stroke-dasharray='5 3'/>");
    out.push("<polyline points='" + pts + "' fill='none' stroke='#1f5fae' stroke-width='2'/>");
    out.push("<line x1='" + px(s.median) + "' x2='" + px(s.median) + "' y1='" + T + "' y2='" + (H - B) + "' stroke='#1f5fae'/>");
    out.push("<line x1='" + L + "' x2='" + (W - R) + "' y1='" + (H - B) + "' y2='" + (H - B) + "' stroke='#333'/>");
    ticks.forEach(function (t) {
      var x = px(Math.log(t));
      out.push("<line x1='" + x + "' x2='" + x + "' y1='" + (H - B) + "' y2='" + (H - B + 4) + "' stroke='#333'/>");
      out.push("<text x='" + x + "' y='" + (H - B + 16) + "' font-size='11' text-anchor='middle'>" + t + "</text>");
    });
    out.push("<text x='" + (W / 2) + "' y='" + (H - 2) + "' font-size='11' text-anchor='middle'>pooled hazard ratio (log axis); shaded: 95% CrI; dashed grey: effect prior (scaled)</text>");
    svg.innerHTML = out.join("");
  }

  function readPrior(box) {
    var v = function (k) { return parseFloat(box.querySelector("[data-k='" + k + "']").value); };
    var fam = box.querySelector("[data-k='family']").value, tau;
    if (fam === "uniform") tau = { family: fam, lower: 0, upper: v("scale") };
    else if (fam === "log_normal") tau = { family: fam, mu: v("lnmu"), sigma: v("lnsigma") };
    else tau = { family: fam, scale: v("scale") };
    return { effect: { mean: v("mean"), sd: v("sd") }, tau: tau };
  }

  function update(box, model) {
    var prior = readPrior(box), out = box.querySelector(".ex-out");
    box.querySelector(".ex-ln").style.display = prior.tau.family === "log_normal" ? "" : "none";
    box.querySelector(".ex-sc").style.display = prior.tau.family === "log_normal" ? "none" : "";
    box.querySelector(".ex-sclabel").textContent = prior.tau.family === "uniform" ? "upper bound" : "scale";
    var ok = prior.effect.sd > 0 && isFinite(prior.effect.mean) &&
      (prior.tau.family === "log_normal" ? prior.tau.sigma > 0 && isFinite(prior.tau.mu) :
        prior.tau.family === "uniform" ? prior.tau.upper > 0 : prior.tau.scale > 0);
    if (!ok) { out.textContent = "Enter a positive SD and a positive heterogeneity scale."; return; }
    var post = solve(model, prior), s = summarize(post);
    out.dataset.median = s.median; out.dataset.lo = s.lo; out.dataset.hi = s.hi; out.dataset.p1 = s.p1;
    var what = model.what || "pooled HR", sym = what.indexOf("ratio") >= 0 ? "ratio" : "HR";
    out.innerHTML = what.charAt(0).toUpperCase() + what.slice(1) + " <b>" + fmt(Math.exp(s.median)) + "</b> (95% CrI " + fmt(Math.exp(s.lo)) + "-" + fmt(Math.exp(s.hi)) +
      "); P(" + sym + " &lt; 1) = <b>" + fmt(s.p1, 3) + "</b>; P(" + sym + " &lt; 0.8) = " + fmt(s.p08, 3) + "; tau median " + fmt(s.tau_median, 2);
    draw(box.querySelector("svg"), post, s, prior);
  }

  function setPreset(box, p) {
    Object.keys(p).forEach(function (k) { var el = box.querySelector("[data-k='" + k + "']"); if (el) el.value = p[k]; });
  }

  function init() {
    document.querySelectorAll(".explorer").forEach(function (box) {
      var model = JSON.parse(box.dataset.model);
      setPreset(box, { scale: 0.5, lnmu: -2.56, lnsigma: 1.74 });   // fields the analysis' family does not set
      setPreset(box, model.initial);
      box.querySelectorAll("input,select").forEach(function (el) { el.addEventListener("input", function () { update(box, model); }); el.addEventListener("change", function () { update(box, model); }); });
      box.querySelectorAll("button[data-preset]").forEach(function (b) {
        b.addEventListener("click", function () { setPreset(box, model.presets[b.dataset.preset]); update(box, model); });
      });
      update(box, model);
    });
  }

  (typeof window !== "undefined" ? window : globalThis).sclcmetaExplorer = { solve: solve, summarize: summarize, Phi: Phi, update: update };
  if (typeof document !== "undefined") {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
  }
})();
