// cnnbook explorers: draw a frame (JSON computed by Python, see cnnbook/explorers/frames.py) as SVG.
// The browser only draws: every number, cell and sentence comes from Python.  Frames for every value
// of every control (one control moved at a time) are sent ahead, so moving a slider redraws at once.

const PAD = "#dbe9f6", UNREAD = "#bdbdbd", LINK = "crimson", CHOSEN = "#1f5fbf";

function esc(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function gridSvg(p, k, hover) {
  const big = Math.max(p.h, p.w);
  const cs = Math.max(11, Math.min(26, Math.floor(300 / big)));
  const left = 22, top = 22, fs = cs >= 20 ? 11 : 8;
  const width = Math.max(left + p.w * cs + 6, p.title.length * 7.3 + 8);
  const height = top + p.h * cs + 18;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(p.title)}">`);
  out.push(`<text x="2" y="13" font-size="12" font-weight="bold">${esc(p.title)}</text>`);
  const linked = new Map();
  const sel = k === null || k === undefined ? null : k;
  if (sel !== null && p.links) for (const [r, c, label] of p.links[sel] || []) linked.set(r * p.w + c, label);
  for (let r = 0; r < p.h; r++) {
    for (let c = 0; c < p.w; c++) {
      const x = left + c * cs, y = top + r * cs;
      const isPad = r < p.pad || r >= p.h - p.pad || c < p.pad || c >= p.w - p.pad;
      let fill = "#ffffff";
      if (isPad) fill = PAD;
      else if (p.shade) fill = `hsl(0,0%,${Math.round(100 - 30 * p.shade[r][c])}%)`;
      const cls = p.select ? ` class="cnnbook-cell" data-r="${r}" data-c="${c}" style="cursor:pointer"` : "";
      out.push(`<rect x="${x}" y="${y}" width="${cs}" height="${cs}" fill="${fill}" stroke="#888" stroke-width="0.6"${cls}/>`);
    }
  }
  for (const [r, c] of p.unread)
    out.push(`<rect x="${left + c * cs}" y="${top + r * cs}" width="${cs}" height="${cs}" fill="url(#cnnbook-hatch)" pointer-events="none"/>`);
  for (let r = 0; r < p.h; r++) {
    for (let c = 0; c < p.w; c++) {
      const key = r * p.w + c;
      const label = linked.has(key) && linked.get(key) !== null ? linked.get(key) : p.text ? p.text[r][c] : "";
      if (label === "") continue;
      const isPad = r < p.pad || r >= p.h - p.pad || c < p.pad || c >= p.w - p.pad;
      const color = linked.has(key) && linked.get(key) !== null ? LINK : isPad ? "#4a6b8a" : "#000";
      out.push(`<text x="${left + c * cs + cs / 2}" y="${top + r * cs + cs / 2 + fs / 2.8}" font-size="${fs}" text-anchor="middle" fill="${color}" pointer-events="none">${esc(label)}</text>`);
    }
  }
  const ring = (r, c, color, w) =>
    out.push(`<rect x="${left + c * cs + 1}" y="${top + r * cs + 1}" width="${cs - 2}" height="${cs - 2}" fill="none" stroke="${color}" stroke-width="${w}" pointer-events="none"/>`);
  for (const [r, c] of p.outline) ring(r, c, LINK, 2);
  for (const key of linked.keys()) ring(Math.floor(key / p.w), key % p.w, LINK, 2.2);
  if (sel !== null && p.box) {
    const [r0, r1, c0, c1] = p.box[sel];
    out.push(`<rect x="${left + c0 * cs}" y="${top + r0 * cs}" width="${(c1 - c0 + 1) * cs}" height="${(r1 - r0 + 1) * cs}" fill="${LINK}" fill-opacity="0.15" stroke="${LINK}" stroke-width="2.5" pointer-events="none"/>`);
  }
  if (p.select && sel !== null) ring(Math.floor(sel / p.w), sel % p.w, hover ? LINK : CHOSEN, 3);
  const tfs = Math.min(9, fs + 1);
  for (let r = 0; r < p.h; r++)
    if (p.rows[r]) out.push(`<text x="${left - 3}" y="${top + r * cs + cs / 2 + 3}" font-size="${tfs}" text-anchor="end" fill="#555">${p.rows[r]}</text>`);
  for (let c = 0; c < p.w; c++)
    if (p.cols[c] && (p.w <= 14 || c % 2 === 0))
      out.push(`<text x="${left + c * cs + cs / 2}" y="${top + p.h * cs + 12}" font-size="${tfs}" text-anchor="middle" fill="#555">${p.cols[c]}</text>`);
  out.push("</svg>");
  return out.join("");
}

function matrixSvg(p, k) {
  const cw = Math.max(2, Math.min(12, Math.floor(560 / p.n)));
  const ch = Math.max(2, Math.min(12, Math.floor(300 / p.m)));
  const left = 8, top = 22;
  const width = Math.max(left + p.n * cw + 8, p.title.length * 7.3 + 8);
  const height = top + p.m * ch + 30;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(p.title)}">`);
  out.push(`<text x="2" y="13" font-size="12" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${p.n * cw}" height="${p.m * ch}" fill="#fff" stroke="#888" stroke-width="0.6"/>`);
  for (const [r, c, v] of p.nnz) {
    const t = Math.min(1, Math.abs(v) / p.span);
    const light = Math.round(88 - 45 * t);
    const color = v > 0 ? `hsl(0,70%,${light}%)` : `hsl(220,70%,${light}%)`;
    out.push(`<rect x="${left + c * cw}" y="${top + r * ch}" width="${cw}" height="${ch}" fill="${color}"/>`);
  }
  if (k !== null && k !== undefined && p.links)
    for (const r of p.links[k] || [])
      out.push(`<rect x="${left - 1}" y="${top + r * ch - 1}" width="${p.n * cw + 2}" height="${ch + 2}" fill="none" stroke="#000" stroke-width="2"/>`);
  out.push(`<text x="${left}" y="${top + p.m * ch + 13}" font-size="10" fill="#555">columns: ${esc(p.cols_label)}; rows: ${esc(p.rows_label)}</text>`);
  out.push("</svg>");
  return out.join("");
}

const HATCH = `<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs><pattern id="cnnbook-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="${UNREAD}" fill-opacity="0.55"/><line x1="0" y1="0" x2="0" y2="6" stroke="#555" stroke-width="1.2"/></pattern></defs></svg>`;

function keyOf(spec, values) {
  return spec.filter((c) => !c.select).map((c) => String(values[c.name])).join("|");
}

function render({ model, el }) {
  const cache = new Map();
  const spec = model.get("spec");
  const onFrames = (msg) => {
    if (msg && msg.frames) for (const [key, frame] of Object.entries(msg.frames)) cache.set(key, frame);
    if (root.classList.contains("cnnbook-waiting")) draw();
  };
  model.on("msg:custom", onFrames);
  const uid = Math.random().toString(36).slice(2, 8);
  let values = { ...model.get("values") };
  let hover = null;
  let sendTimer = null;

  const root = document.createElement("div");
  root.className = "cnnbook-explorer cnnbook-live";
  // keys belong to the controls, not to JupyterLab's notebook shortcuts (arrows would move cells)
  root.dataset.lmSuppressShortcuts = "true";
  root.addEventListener("keydown", (event) => event.stopPropagation());
  root.innerHTML = HATCH;
  const controls = document.createElement("div");
  controls.className = "cnnbook-controls";
  const readout = document.createElement("div");
  readout.className = "cnnbook-readout";
  readout.setAttribute("aria-live", "polite");
  const picture = document.createElement("div");
  picture.className = "cnnbook-picture";
  root.append(controls, readout, picture);
  el.append(root);

  const inputs = {};
  for (const c of spec) {
    const box = document.createElement("div");
    box.className = "cnnbook-control";
    const id = `cnnbook-${uid}-${c.name}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = c.label;
    let input;
    if (c.options && c.options.length) {
      input = document.createElement("select");
      for (const [text, value] of c.options) {
        const o = document.createElement("option");
        o.value = value;
        o.textContent = text;
        input.append(o);
      }
    } else {
      input = document.createElement("input");
      input.type = "range";
      input.min = c.lo;
      input.max = c.hi;
      input.step = 1;
    }
    input.id = id;
    input.value = values[c.name];
    const shown = document.createElement("output");
    shown.htmlFor = id;
    shown.textContent = c.options && c.options.length ? "" : values[c.name];
    box.append(label, input, shown);
    controls.append(box);
    inputs[c.name] = { input, shown, spec: c };
    input.addEventListener("input", () => {
      const v = c.options && c.options.length ? input.value : Number(input.value);
      values = { ...values, [c.name]: v };
      shown.textContent = c.options && c.options.length ? "" : v;
      hover = null;
      draw();
      clearTimeout(sendTimer);
      sendTimer = setTimeout(push, 120);
    });
    input.addEventListener("change", () => { clearTimeout(sendTimer); push(); });
  }

  function push() {
    model.set("values", { ...values });
    model.save_changes();
  }

  function selection(frame) {
    if (!frame.select) return null;
    const row = spec.find((c) => c.select === "row"), col = spec.find((c) => c.select === "col");
    let i = Math.min(values[row.name], frame.select.h) - 1, j = Math.min(values[col.name], frame.select.w) - 1;
    inputs[row.name].input.max = frame.select.h;
    inputs[col.name].input.max = frame.select.w;
    inputs[row.name].input.value = i + 1;
    inputs[col.name].input.value = j + 1;
    inputs[row.name].shown.textContent = i + 1;
    inputs[col.name].shown.textContent = j + 1;
    return i * frame.select.w + j;
  }

  function draw() {
    const key = keyOf(spec, values);
    const frame = cache.get(key);
    if (!frame) {
      root.classList.add("cnnbook-waiting");
      return;
    }
    root.classList.remove("cnnbook-waiting");
    if (frame.error) {
      readout.innerHTML = `<div class="cnnbook-error"><b>not a valid setting:</b> ${esc(frame.error)}</div>`;
      picture.innerHTML = "";
      root.dataset.key = key;
      return;
    }
    const chosen = selection(frame);
    const k = hover !== null ? hover : chosen;
    const lines = frame.lines.map((line) => (Array.isArray(line) ? line[k] : line));
    readout.innerHTML =
      `<b class="cnnbook-output-size">${esc(lines[0])}</b>` + lines.slice(1).map((l) => `<div>${esc(l)}</div>`).join("");
    picture.innerHTML = frame.panels
      .map((p) => `<div class="cnnbook-panel">${p.kind === "grid" ? gridSvg(p, k, hover !== null) : matrixSvg(p, k)}</div>`)
      .join("");
    root.dataset.key = key;
  }

  picture.addEventListener("click", (event) => {
    const cell = event.target.closest(".cnnbook-cell");
    if (!cell) return;
    const row = spec.find((c) => c.select === "row"), col = spec.find((c) => c.select === "col");
    values = { ...values, [row.name]: Number(cell.dataset.r) + 1, [col.name]: Number(cell.dataset.c) + 1 };
    hover = null;
    draw();
    push();
  });
  picture.addEventListener("mouseover", (event) => {
    const cell = event.target.closest(".cnnbook-cell");
    const frame = cache.get(keyOf(spec, values));
    if (!cell || !frame || !frame.select) return;
    const k = Number(cell.dataset.r) * frame.select.w + Number(cell.dataset.c);
    if (k !== hover) { hover = k; draw(); }
  });
  picture.addEventListener("mouseleave", () => { if (hover !== null) { hover = null; draw(); } });

  const onValues = () => {
    const incoming = model.get("values");
    if (JSON.stringify(incoming) === JSON.stringify(values)) return; // our own change coming back
    values = { ...incoming };
    for (const [name, { input, shown, spec: c }] of Object.entries(inputs)) {
      input.value = values[name];
      shown.textContent = c.options && c.options.length ? "" : values[name];
    }
    draw();
  };
  model.on("change:values", onValues);
  model.send({ type: "ready" });
  // The static picture shown without a kernel sits in the output just before this one: hide it.
  requestAnimationFrame(() => {
    const mine = el.closest(".jp-OutputArea-child");
    const before = mine && mine.previousElementSibling;
    if (before && before.querySelector('img[alt^="cnnbook explorer"]')) before.style.display = "none";
  });
  draw();
  return () => {
    model.off("change:values", onValues);
    model.off("msg:custom", onFrames);
  };
}

export default { render };
