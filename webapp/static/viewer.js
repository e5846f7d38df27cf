// PartScope's 3D viewer: a small WebGL2 renderer run by gr.HTML's js_on_load
// (in scope: element, trigger, props, watch, server).
//
// props.value names the object ({key}) and, once there are parts, carries
//   them: {key, scale, n_parts, labels (base64 int16 or int32, one part id
//   per face, -1 = no face), dtype, colors (hex per part, "" = hidden),
//   faces, share, names, edited (the list was edited), selected (base64 of
//   one bit per face, little-endian, or null: the selection, drawn with the
//   rest of the model dimmed)}.
// server.viewer_mesh(key) answers the geometry once per object: {key,
//   n_faces, positions, faces, colors | color, uv, material, textures,
//   radius}; arrays are base64 little-endian (float32 positions, uint32
//   faces, uint8 corner colors, float32 corner uvs, int16 material per face,
//   image data URLs). It never travels with slider moves.
//
// A slider move only replaces two small textures (part id per face, color per
// part); the camera is never touched by it. Hover and clicks pick the face
// under the cursor from an id buffer (face id + 1 as RGB) read back once per
// camera pose; a click fires trigger('face_click', {face, part, camera, ...}),
// and the "Paint this view" button trigger('paint_view', {camera}).

const root = element.querySelector('.ps-viewer');
const canvas = root.querySelector('.ps-canvas');
const tip = root.querySelector('.ps-tip');
const note = root.querySelector('.ps-note');
const legend = root.querySelector('.ps-legend');
const lookBtn = root.querySelector('[data-act="look"]');
const resetBtn = root.querySelector('[data-act="reset"]');
const paintBtn = root.querySelector('[data-act="paint"]');

const gl = canvas.getContext('webgl2', { antialias: true, alpha: true });
if (!gl) {
  root.dataset.state = 'nogl';
  note.textContent = 'This browser cannot show 3D (WebGL2 is off or missing). ' +
    'Downloads still work; try an up-to-date Chrome, Firefox, Edge or Safari.';
  return;
}

const TEX_W = 2048;          // row width of the per-face and per-part textures
const FOV = 35 * Math.PI / 180;

// ---------------------------------------------------------------- shaders
const VERT = `#version 300 es
precision highp float; precision highp int; precision highp isampler2D;
layout(location = 0) in vec3 aPos;
layout(location = 1) in vec4 aColor;
layout(location = 2) in vec2 aUV;
layout(location = 3) in float aMat;
uniform mat4 uProj, uView;
uniform highp isampler2D uLabels, uSel;
uniform sampler2D uPalette;
out vec3 vPos; out vec4 vColor; out vec2 vUV;
flat out int vMat; flat out int vPart; flat out int vFace; flat out int vSel; flat out vec4 vPartColor;
void main() {
  int f = gl_VertexID / 3;
  int part = texelFetch(uLabels, ivec2(f % ${TEX_W}, f / ${TEX_W}), 0).r;
  vSel = texelFetch(uSel, ivec2(f % ${TEX_W}, f / ${TEX_W}), 0).r;
  vPartColor = part >= 0 ? texelFetch(uPalette, ivec2(part % ${TEX_W}, part / ${TEX_W}), 0) : vec4(0.0);
  vec4 p = uView * vec4(aPos, 1.0);
  vPos = p.xyz; vColor = aColor; vUV = aUV;
  vMat = int(floor(aMat + 0.5)); vPart = part; vFace = f;
  gl_Position = uProj * p;
}`;

const FRAG = `#version 300 es
precision highp float; precision highp int;
in vec3 vPos; in vec4 vColor; in vec2 vUV;
flat in int vMat; flat in int vPart; flat in int vSel; flat in vec4 vPartColor;
uniform int uLook, uPass, uHasLabels, uHover, uHasSel;
uniform sampler2D uTex;
out vec4 outColor;
void main() {
  if (uHasLabels == 1 && vPartColor.a < 0.5) discard;
  vec3 base;
  if (uLook == 0 && uHasLabels == 1) {
    base = vPartColor.rgb;
  } else {
    if (vMat != uPass) discard;
    base = vColor.rgb;
    if (vMat >= 0) base *= texture(uTex, vec2(vUV.x, 1.0 - vUV.y)).rgb;
  }
  vec3 n = normalize(cross(dFdx(vPos), dFdy(vPos)));
  vec3 v = normalize(-vPos);
  if (dot(n, v) < 0.0) n = -n;
  vec3 key = normalize(vec3(-0.45, 0.8, 0.4));
  float light = 0.3 + 0.5 * max(dot(n, v), 0.0) + 0.3 * max(dot(n, key), 0.0);
  vec3 c = base * light;
  if (uHover >= 0 && vPart == uHover) c = mix(c, vec3(1.0), 0.3);
  if (uHasSel == 1 && vSel == 0) c = vec3(0.42 + 0.4 * dot(c, vec3(0.299, 0.587, 0.114)));
  outColor = vec4(min(c, vec3(1.0)), 1.0);
}`;

const FRAG_ID = `#version 300 es
precision highp float; precision highp int;
flat in int vFace; flat in vec4 vPartColor;
uniform int uHasLabels;
out vec4 outColor;
void main() {
  if (uHasLabels == 1 && vPartColor.a < 0.5) discard;
  int id = vFace + 1;
  outColor = vec4(float(id & 255), float((id >> 8) & 255), float((id >> 16) & 255), 255.0) / 255.0;
}`;

function compile(vsrc, fsrc) {
  const prog = gl.createProgram();
  for (const [type, src] of [[gl.VERTEX_SHADER, vsrc], [gl.FRAGMENT_SHADER, fsrc]]) {
    const sh = gl.createShader(type);
    gl.shaderSource(sh, src);
    gl.compileShader(sh);
    if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh));
    gl.attachShader(prog, sh);
  }
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
  const uni = {};
  const n = gl.getProgramParameter(prog, gl.ACTIVE_UNIFORMS);
  for (let i = 0; i < n; i++) {
    const name = gl.getActiveUniform(prog, i).name;
    uni[name] = gl.getUniformLocation(prog, name);
  }
  return { prog, uni };
}

const shade = compile(VERT, FRAG);
const idPass = compile(VERT, FRAG_ID);

// ---------------------------------------------------------------- state
const S = {
  meshKey: null, nFaces: 0, radius: 1, center: [0, 0, 0],
  vao: null, buffers: [], textures: [], labelTex: null, paletteTex: null, selTex: null,
  hasLabels: false, hasSel: false, labels: null, parts: null, look: 'parts', hover: -1,
  cam: null, dirty: false, idDirty: true, idBuf: null, idW: 0, idH: 0,
  fbo: null, fboColor: null, fboDepth: null,
};

const timings = { mesh_ms: null, parts_ms: null, parts_at: null, drawn_at: null };  // for benchmarks

function bytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// A TEX_W-wide data texture read with texelFetch: one int per texel from an
// Int32Array (labels, selection), RGBA bytes from a Uint8Array (palette).
function dataTexture(data, rows) {
  const tex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, tex);
  if (data instanceof Int32Array) gl.texImage2D(gl.TEXTURE_2D, 0, gl.R32I, TEX_W, rows, 0, gl.RED_INTEGER, gl.INT, data);
  else gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, TEX_W, rows, 0, gl.RGBA, gl.UNSIGNED_BYTE, data);
  for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
  return tex;
}

function freeMesh() {
  if (S.vao) gl.deleteVertexArray(S.vao);
  for (const b of S.buffers) gl.deleteBuffer(b);
  for (const t of S.textures) gl.deleteTexture(t);
  for (const t of [S.labelTex, S.paletteTex, S.selTex]) if (t) gl.deleteTexture(t);
  Object.assign(S, { meshKey: null, nFaces: 0, vao: null, buffers: [], textures: [],
    labelTex: null, paletteTex: null, selTex: null, hasLabels: false, hasSel: false, labels: null, parts: null,
    hover: -1 });
  resetBtn.disabled = true;
  paintBtn.disabled = true;
}

function attribute(loc, data, size, type, normalized) {
  const buf = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, buf);
  gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
  gl.enableVertexAttribArray(loc);
  gl.vertexAttribPointer(loc, size, type, normalized, 0, 0);
  S.buffers.push(buf);
}

async function loadImage(url) {
  const img = new Image();
  img.src = url;
  await img.decode();
  const tex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, img);
  gl.generateMipmap(gl.TEXTURE_2D);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR_MIPMAP_LINEAR);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.REPEAT);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.REPEAT);
  return tex;
}

async function buildMesh(m) {
  freeMesh();
  const F = m.n_faces;
  const pos = new Float32Array(bytes(m.positions).buffer);
  const faces = new Uint32Array(bytes(m.faces).buffer);
  const corners = new Float32Array(F * 9);
  for (let i = 0; i < F * 3; i++) {
    const v = faces[i] * 3;
    corners[i * 3] = pos[v]; corners[i * 3 + 1] = pos[v + 1]; corners[i * 3 + 2] = pos[v + 2];
  }
  const textures = [];
  for (const url of m.textures || []) textures.push(await loadImage(url));

  S.vao = gl.createVertexArray();
  gl.bindVertexArray(S.vao);
  attribute(0, corners, 3, gl.FLOAT, false);
  if (m.colors) {
    attribute(1, bytes(m.colors), 4, gl.UNSIGNED_BYTE, true);
  } else {
    gl.disableVertexAttribArray(1);
    const c = m.color || [200, 200, 200];
    gl.vertexAttrib4f(1, c[0] / 255, c[1] / 255, c[2] / 255, 1);
  }
  if (m.uv && m.material) {
    attribute(2, new Float32Array(bytes(m.uv).buffer), 2, gl.FLOAT, false);
    const mat = new Int16Array(bytes(m.material).buffer);
    const perCorner = new Float32Array(F * 3);
    for (let f = 0; f < F; f++) perCorner[f * 3] = perCorner[f * 3 + 1] = perCorner[f * 3 + 2] = mat[f];
    attribute(3, perCorner, 1, gl.FLOAT, false);
  } else {
    gl.disableVertexAttribArray(2);
    gl.disableVertexAttribArray(3);
    gl.vertexAttrib2f(2, 0, 0);
    gl.vertexAttrib1f(3, -1);
  }
  gl.bindVertexArray(null);

  S.meshKey = m.key;
  S.nFaces = F;
  S.textures = textures;
  S.radius = m.radius || 0.87;
  S.labelTex = dataTexture(new Int32Array(TEX_W * Math.ceil(F / TEX_W)).fill(-1), Math.ceil(F / TEX_W));
  S.selTex = dataTexture(new Int32Array(TEX_W * Math.ceil(F / TEX_W)), Math.ceil(F / TEX_W));
  S.paletteTex = dataTexture(new Uint8Array(TEX_W * 4), 1);
  S.cam = homeCamera();
  root.dataset.faces = String(F);
  root.dataset.state = 'mesh';
  note.textContent = '';
  lookBtn.disabled = true;
  resetBtn.disabled = false;
}

function applyParts(v) {
  const F = S.nFaces;
  const raw = bytes(v.labels);
  const labels = v.dtype === 'i4' ? new Int32Array(raw.buffer) : new Int16Array(raw.buffer);
  if (labels.length !== F) throw new Error(`labels for ${labels.length} faces, mesh has ${F}`);
  const rows = Math.ceil(F / TEX_W);
  const lab32 = new Int32Array(TEX_W * rows).fill(-1);
  lab32.set(labels);
  gl.bindTexture(gl.TEXTURE_2D, S.labelTex);
  gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEX_W, rows, gl.RED_INTEGER, gl.INT, lab32);

  const P = v.colors.length;
  const prow = Math.max(1, Math.ceil(P / TEX_W));
  const pal = new Uint8Array(TEX_W * prow * 4);
  v.colors.forEach((hex, k) => {
    if (!hex) return;  // hidden part
    const n = parseInt(hex.slice(1), 16);
    pal.set([(n >> 16) & 255, (n >> 8) & 255, n & 255, 255], k * 4);
  });
  gl.deleteTexture(S.paletteTex);
  S.paletteTex = dataTexture(pal, prow);

  S.labels = labels;
  S.parts = v;
  S.hasLabels = true;
  S.idDirty = true;
  if (S.hover >= P) S.hover = -1;
  lookBtn.disabled = false;
  paintBtn.disabled = false;
  const selected = applySelection(v.selected);
  const scale = Number(v.scale).toFixed(1);
  legend.textContent = `${v.n_parts} part${v.n_parts === 1 ? '' : 's'}` +
    (v.edited ? ' (edited list)' : ` at scale ${scale}`) +
    (v.note ? ` · ${v.note}` : '') +
    (selected ? ` · ${selected.toLocaleString()} faces selected` : '');
  root.dataset.parts = String(v.n_parts);
  root.dataset.scale = scale;
  root.dataset.edited = v.edited ? 'true' : 'false';
  root.dataset.selected = String(selected);
  root.dataset.state = v.note ? 'first-parts' : 'parts';
}

// the selection: one bit per face (little-endian bytes), or null; returns how many faces
function applySelection(b64) {
  const rows = Math.ceil(S.nFaces / TEX_W);
  const sel = new Int32Array(TEX_W * rows);
  let n = 0;
  if (b64) {
    const bits = bytes(b64);
    for (let f = 0; f < S.nFaces; f++) { sel[f] = (bits[f >> 3] >> (f & 7)) & 1; n += sel[f]; }
  }
  gl.bindTexture(gl.TEXTURE_2D, S.selTex);
  gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEX_W, rows, gl.RED_INTEGER, gl.INT, sel);
  S.hasSel = n > 0;
  S.sel = sel;
  return n;
}

function clearParts() {
  if (!S.meshKey) return;
  if (S.hasLabels) {
    gl.bindTexture(gl.TEXTURE_2D, S.labelTex);
    const rows = Math.ceil(S.nFaces / TEX_W);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEX_W, rows, gl.RED_INTEGER, gl.INT,
      new Int32Array(TEX_W * rows).fill(-1));
  }
  Object.assign(S, { hasLabels: false, hasSel: false, labels: null, parts: null, hover: -1, idDirty: true });
  legend.textContent = S.meshKey ? 'Original look (parts appear when the fit is done)' : '';
  lookBtn.disabled = true;
  paintBtn.disabled = true;
  delete root.dataset.selected;
  delete root.dataset.parts;
  root.dataset.state = 'mesh';
}

// ---------------------------------------------------------------- camera
function homeCamera() {
  return { yaw: 0.65, pitch: 0.38, dist: 1.08 * S.radius / Math.sin(FOV / 2), target: [0, 0, 0] };
}

function eyeOf(c) {
  const cp = Math.cos(c.pitch);
  return [c.target[0] + c.dist * cp * Math.sin(c.yaw), c.target[1] + c.dist * Math.sin(c.pitch),
    c.target[2] + c.dist * cp * Math.cos(c.yaw)];
}

function sub(a, b) { return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]; }
function cross(a, b) { return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]; }
function norm(a) { const l = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / l, a[1] / l, a[2] / l]; }
function dot(a, b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

function viewMatrix(c) {
  const eye = eyeOf(c);
  const z = norm(sub(eye, c.target));
  const x = norm(cross([0, 1, 0], z));
  const y = cross(z, x);
  return new Float32Array([x[0], y[0], z[0], 0, x[1], y[1], z[1], 0, x[2], y[2], z[2], 0,
    -dot(x, eye), -dot(y, eye), -dot(z, eye), 1]);
}

function projMatrix(aspect, near, far) {
  const f = 1 / Math.tan(FOV / 2);
  return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) / (near - far), -1,
    0, 0, 2 * far * near / (near - far), 0]);
}

function cameraInfo() {
  const c = S.cam;
  return { eye: eyeOf(c), target: c.target.slice(), up: [0, 1, 0], fov_deg: FOV * 180 / Math.PI,
    width: canvas.width, height: canvas.height };
}

// ---------------------------------------------------------------- drawing
function ensureFbo() {
  const w = canvas.width, h = canvas.height;
  if (S.fbo && S.idW === w && S.idH === h) return;
  if (S.fbo) { gl.deleteFramebuffer(S.fbo); gl.deleteRenderbuffer(S.fboColor); gl.deleteRenderbuffer(S.fboDepth); }
  S.fbo = gl.createFramebuffer();
  S.fboColor = gl.createRenderbuffer();
  S.fboDepth = gl.createRenderbuffer();
  gl.bindRenderbuffer(gl.RENDERBUFFER, S.fboColor);
  gl.renderbufferStorage(gl.RENDERBUFFER, gl.RGBA8, w, h);
  gl.bindRenderbuffer(gl.RENDERBUFFER, S.fboDepth);
  gl.renderbufferStorage(gl.RENDERBUFFER, gl.DEPTH_COMPONENT24, w, h);
  gl.bindFramebuffer(gl.FRAMEBUFFER, S.fbo);
  gl.framebufferRenderbuffer(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.RENDERBUFFER, S.fboColor);
  gl.framebufferRenderbuffer(gl.FRAMEBUFFER, gl.DEPTH_ATTACHMENT, gl.RENDERBUFFER, S.fboDepth);
  gl.bindFramebuffer(gl.FRAMEBUFFER, null);
  S.idW = w; S.idH = h; S.idBuf = new Uint8Array(w * h * 4);
}

function setCommon(p) {
  const c = S.cam;
  const near = Math.max(c.dist - 2 * S.radius, c.dist * 0.02);
  gl.useProgram(p.prog);
  gl.uniformMatrix4fv(p.uni.uProj, false, projMatrix(canvas.width / Math.max(canvas.height, 1), near, c.dist + 2 * S.radius));
  gl.uniformMatrix4fv(p.uni.uView, false, viewMatrix(c));
  gl.activeTexture(gl.TEXTURE1); gl.bindTexture(gl.TEXTURE_2D, S.labelTex);
  gl.activeTexture(gl.TEXTURE2); gl.bindTexture(gl.TEXTURE_2D, S.paletteTex);
  gl.activeTexture(gl.TEXTURE3); gl.bindTexture(gl.TEXTURE_2D, S.selTex);
  gl.uniform1i(p.uni.uLabels, 1);
  gl.uniform1i(p.uni.uPalette, 2);
  gl.uniform1i(p.uni.uSel, 3);
  gl.uniform1i(p.uni.uHasLabels, S.hasLabels ? 1 : 0);
  if (p.uni.uHasSel) gl.uniform1i(p.uni.uHasSel, S.hasSel ? 1 : 0);
  gl.bindVertexArray(S.vao);
}

function draw() {
  S.dirty = false;
  timings.drawn_at = performance.now();
  gl.viewport(0, 0, canvas.width, canvas.height);
  gl.bindFramebuffer(gl.FRAMEBUFFER, null);
  gl.clearColor(0, 0, 0, 0);
  gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
  if (!S.meshKey) return;
  gl.enable(gl.DEPTH_TEST);
  setCommon(shade);
  const u = shade.uni;
  const original = S.look === 'original' || !S.hasLabels;
  gl.uniform1i(u.uLook, original ? 1 : 0);
  gl.uniform1i(u.uHover, S.hover);
  gl.uniform1i(u.uTex, 0);
  gl.activeTexture(gl.TEXTURE0);
  if (!original) {
    gl.bindTexture(gl.TEXTURE_2D, null);  // unit 0 may hold an integer texture a sampler2D must not see
    gl.uniform1i(u.uPass, -2);
    gl.drawArrays(gl.TRIANGLES, 0, S.nFaces * 3);
  } else {
    // one pass for untextured faces, then one per texture (others discarded)
    for (let t = -1; t < S.textures.length; t++) {
      gl.bindTexture(gl.TEXTURE_2D, t >= 0 ? S.textures[t] : null);
      gl.uniform1i(u.uPass, t);
      gl.drawArrays(gl.TRIANGLES, 0, S.nFaces * 3);
    }
  }
  gl.bindVertexArray(null);
}

function requestDraw() {
  if (S.dirty) return;
  S.dirty = true;
  requestAnimationFrame(draw);
}

function readIds() {
  ensureFbo();
  gl.bindFramebuffer(gl.FRAMEBUFFER, S.fbo);
  gl.viewport(0, 0, S.idW, S.idH);
  gl.clearColor(0, 0, 0, 0);
  gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
  gl.enable(gl.DEPTH_TEST);
  setCommon(idPass);
  gl.drawArrays(gl.TRIANGLES, 0, S.nFaces * 3);
  gl.bindVertexArray(null);
  gl.readPixels(0, 0, S.idW, S.idH, gl.RGBA, gl.UNSIGNED_BYTE, S.idBuf);
  gl.bindFramebuffer(gl.FRAMEBUFFER, null);
  S.idDirty = false;
}

// face id under a point given in CSS pixels of the canvas, or -1
function pickFace(cssX, cssY) {
  if (!S.meshKey || !canvas.clientWidth || !canvas.clientHeight) return -1;
  if (S.idDirty || S.idW !== canvas.width || S.idH !== canvas.height) readIds();
  const r = canvas.width / canvas.clientWidth;
  const x = Math.floor(cssX * r), y = S.idH - 1 - Math.floor(cssY * r);
  if (x < 0 || y < 0 || x >= S.idW || y >= S.idH) return -1;
  const i = (y * S.idW + x) * 4;
  return (S.idBuf[i] | (S.idBuf[i + 1] << 8) | (S.idBuf[i + 2] << 16)) - 1;
}

// ---------------------------------------------------------------- hover text
function partInfo(part) {
  const p = S.parts;
  const name = p.names && p.names[part];
  const share = 100 * (p.share[part] || 0);
  return { part, name: name || null, faces: p.faces[part], share,
    color: p.colors[part] || '#888888' };
}

function showTip(face, cssX, cssY) {
  if (face < 0 || !S.hasLabels) { tip.hidden = true; return setHover(-1); }
  const part = S.labels[face];
  if (part < 0) { tip.hidden = true; return setHover(-1); }
  const info = partInfo(part);
  tip.replaceChildren();
  const head = document.createElement('div');
  const sw = document.createElement('span');
  sw.className = 'ps-sw';
  sw.style.background = info.color;
  const title = document.createElement('b');
  title.textContent = info.name ? `${info.name} (part ${part})` : `Part ${part}`;
  head.append(sw, title);
  const body = document.createElement('div');
  body.textContent = `${info.faces.toLocaleString()} faces · ${info.share.toFixed(1)}% of surface`;
  tip.append(head, body);
  tip.hidden = false;
  const w = root.clientWidth, tw = tip.offsetWidth, th = tip.offsetHeight;
  tip.style.left = `${Math.min(cssX + 14, w - tw - 6)}px`;
  tip.style.top = `${Math.max(cssY - th - 10, 6)}px`;
  root.dataset.hoverPart = String(part);
  setHover(part);
}

function setHover(part) {
  if (part === -1) delete root.dataset.hoverPart;
  if (S.hover !== part) { S.hover = part; requestDraw(); }
}

// ---------------------------------------------------------------- input
const pointers = new Map();
let press = null, hoverAt = null, hoverQueued = false;

function local(e) {
  const r = canvas.getBoundingClientRect();
  return [e.clientX - r.left, e.clientY - r.top];
}

function moved() { S.idDirty = true; tip.hidden = true; requestDraw(); }

canvas.addEventListener('contextmenu', (e) => e.preventDefault());
canvas.addEventListener('pointerdown', (e) => {
  canvas.setPointerCapture(e.pointerId);
  pointers.set(e.pointerId, local(e));
  if (pointers.size === 1) press = { at: local(e), button: e.button, travel: 0 };
  else press = null;
});
canvas.addEventListener('pointermove', (e) => {
  const at = local(e);
  if (!pointers.has(e.pointerId)) {
    hoverAt = at;
    if (!hoverQueued) {
      hoverQueued = true;
      requestAnimationFrame(() => { hoverQueued = false; if (hoverAt) showTip(pickFace(...hoverAt), ...hoverAt); });
    }
    return;
  }
  const prev = pointers.get(e.pointerId);
  pointers.set(e.pointerId, at);
  if (!S.cam) return;
  const dx = at[0] - prev[0], dy = at[1] - prev[1];
  if (press) press.travel += Math.abs(dx) + Math.abs(dy);
  if (pointers.size === 2) {
    const [a, b] = [...pointers.values()];
    const other = a === at ? b : a;
    const before = Math.hypot(prev[0] - other[0], prev[1] - other[1]);
    const after = Math.hypot(at[0] - other[0], at[1] - other[1]);
    if (before > 0 && after > 0) S.cam.dist = clampDist(S.cam.dist * before / after);
  } else if (press && (press.button === 2 || press.button === 1 || e.shiftKey)) {
    pan(dx, dy);
  } else {
    S.cam.yaw -= dx * 0.008;
    S.cam.pitch = Math.max(-1.55, Math.min(1.55, S.cam.pitch + dy * 0.008));
  }
  moved();
});
function release(e) {
  if (!pointers.has(e.pointerId)) return;
  pointers.delete(e.pointerId);
  if (press && press.travel < 5 && e.type === 'pointerup') click(e, press);
  if (pointers.size === 0) press = null;
}
canvas.addEventListener('pointerup', release);
canvas.addEventListener('pointercancel', release);
canvas.addEventListener('pointerleave', () => { hoverAt = null; tip.hidden = true; setHover(-1); });
canvas.addEventListener('wheel', (e) => {
  if (!S.cam) return;
  e.preventDefault();
  S.cam.dist = clampDist(S.cam.dist * Math.exp(e.deltaY * 0.0012));
  moved();
}, { passive: false });

function clampDist(d) { return Math.max(S.radius * 0.3, Math.min(S.radius * 20, d)); }

function pan(dx, dy) {
  const c = S.cam;
  const eye = eyeOf(c);
  const z = norm(sub(eye, c.target));
  const x = norm(cross([0, 1, 0], z));
  const y = cross(z, x);
  const k = 2 * c.dist * Math.tan(FOV / 2) / Math.max(canvas.clientHeight, 1);
  for (let i = 0; i < 3; i++) c.target[i] += (-dx * x[i] + dy * y[i]) * k;
}

function click(e, p) {
  const [x, y] = p.at;
  const face = pickFace(x, y);
  if (face < 0) return;
  const part = S.hasLabels ? S.labels[face] : -1;
  root.dataset.clickedFace = String(face);
  trigger('face_click', { face, part, scale: S.parts ? S.parts.scale : null, button: p.button, shift: e.shiftKey, alt: e.altKey,
    x: x / canvas.clientWidth, y: y / canvas.clientHeight, camera: cameraInfo() });
}

lookBtn.addEventListener('click', () => {
  S.look = S.look === 'parts' ? 'original' : 'parts';
  root.dataset.look = S.look;
  lookBtn.textContent = S.look === 'parts' ? 'Original look' : 'Part colors';
  requestDraw();
});
resetBtn.addEventListener('click', () => { if (S.meshKey) { S.cam = homeCamera(); moved(); } });
paintBtn.addEventListener('click', () => { if (S.cam) trigger('paint_view', { camera: cameraInfo() }); });

// keyboard, with the viewer focused: arrows orbit, +/- zoom, r resets, o toggles the look
root.addEventListener('keydown', (e) => {
  if (!S.cam || e.target !== root) return;
  const step = 0.12;
  const keys = {
    ArrowLeft: () => { S.cam.yaw += step; }, ArrowRight: () => { S.cam.yaw -= step; },
    ArrowUp: () => { S.cam.pitch = Math.min(1.55, S.cam.pitch + step); },
    ArrowDown: () => { S.cam.pitch = Math.max(-1.55, S.cam.pitch - step); },
    '+': () => { S.cam.dist = clampDist(S.cam.dist / 1.15); }, '=': () => { S.cam.dist = clampDist(S.cam.dist / 1.15); },
    '-': () => { S.cam.dist = clampDist(S.cam.dist * 1.15); }, r: () => { S.cam = homeCamera(); },
    o: () => { if (!lookBtn.disabled) lookBtn.click(); },
  };
  if (!keys[e.key]) return;
  e.preventDefault();
  keys[e.key]();
  moved();
});

canvas.addEventListener('webglcontextlost', (e) => {
  e.preventDefault();
  root.dataset.state = 'error';
  note.textContent = 'The browser dropped the 3D view (graphics memory ran out). Reload the page to see it again.';
});

new ResizeObserver(() => {
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w; canvas.height = h;
    S.idDirty = true;
    requestDraw();
  }
}).observe(canvas);

// ---------------------------------------------------------------- props
let chain = Promise.resolve();
async function sync() {
  const t0 = performance.now();
  const v = props.value;
  if (!v || !v.key) {
    if (S.meshKey) { freeMesh(); root.dataset.state = 'empty'; legend.textContent = ''; }
    return requestDraw();
  }
  if (v.key !== S.meshKey) {
    root.dataset.state = 'loading';
    note.textContent = 'Loading the model...';
    const m = await server.viewer_mesh(v.key);
    if (props.value !== v) return;  // a newer value came meanwhile; its own sync follows
    if (!m || m.key !== v.key) throw new Error('the server no longer has this model; open it again');
    await buildMesh(m);
    timings.mesh_ms = performance.now() - t0;
  }
  const t1 = performance.now();
  if (v.labels) {
    applyParts(v);
    timings.parts_at = performance.now();
    timings.parts_ms = timings.parts_at - t1;
  } else clearParts();
  requestDraw();
}
function schedule() {
  chain = chain.then(sync).catch((err) => {
    console.error('PartScope viewer:', err);
    root.dataset.state = 'error';
    note.textContent = `The viewer could not show this model (${err.message}).`;
  });
}
watch('value', schedule);
schedule();

// for the browser tests and benchmarks
root.partscope = {
  state: () => ({ meshKey: S.meshKey, faces: S.nFaces, hasLabels: S.hasLabels, look: S.look,
    parts: S.parts ? S.parts.n_parts : 0, camera: S.cam ? cameraInfo() : null }),
  pick: (x, y) => pickFace(x, y),
  selected: () => (S.hasSel ? [...S.sel.subarray(0, S.nFaces).keys()].filter((f) => S.sel[f]) : []),
  timings: () => ({ ...timings }),
  ready: () => chain,
};
