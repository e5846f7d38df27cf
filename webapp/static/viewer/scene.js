// PartScope viewer, scene.js: the WebGL2 context, the shaders, the mesh's
// buffers and textures, the orbit camera, and drawing a frame. Each face's
// paint (its part's colour; alpha 1 shown, 0.5 dimmed by a selection, 0
// hidden) and part id are vertex attributes 4 and 5, which painting.js fills.

const FOV = 35 * Math.PI / 180;

// a texel under this alpha is cut out (alphaMode MASK, core/looks.py): not drawn, not picked
const HEAD = '#version 300 es\nprecision highp float; precision highp int;\nconst float CUT_OUT = 0.5;';
const inputs = (...list) => list.map(([loc, decl]) => `layout(location = ${loc}) in ${decl};`).join('\n');

// light, hover and selection dimming of a base colour, shared by both looks
const LIGHT = `
uniform int uHover;
vec3 light(vec3 base, vec3 n, vec3 v, float paint, int part) {
  if (dot(n, v) < 0.0) n = -n;
  vec3 c = base * (0.3 + 0.5 * max(dot(n, v), 0.0) + 0.3 * max(dot(n, normalize(vec3(-0.45, 0.8, 0.4))), 0.0));
  if (uHover >= 0 && part == uHover) c = mix(c, vec3(1.0), 0.3);
  if (paint < 0.75) c = vec3(0.42 + 0.4 * dot(c, vec3(0.299, 0.587, 0.114)));
  return min(c, vec3(1.0));
}`;

// the parts' colours, lit per face in the vertex shader (a face's normal is an
// attribute): the fragment shader only writes the colour
const PARTS_VERT = `${HEAD}
${inputs([0, 'vec3 aPos'], [4, 'vec4 aPaint'], [5, 'int aPart'], [6, 'vec3 aNormal'])}
uniform mat4 uProj, uView;
flat out vec4 vColor; flat out int vFace;
${LIGHT}
void main() {
  vec4 p = uView * vec4(aPos, 1.0);
  vColor = vec4(light(aPaint.rgb, normalize(mat3(uView) * aNormal), normalize(-p.xyz), aPaint.a, aPart), aPaint.a);
  vFace = gl_VertexID / 3;
  gl_Position = uProj * p;
}`;

const PARTS_FRAG = `${HEAD}
flat in vec4 vColor;
out vec4 outColor;
void main() {
  if (vColor.a < 0.25) discard;
  outColor = vec4(vColor.rgb, 1.0);
}`;

// the model's own look: corner colours, textures by material, lit per pixel
const LOOK_VERT = `${HEAD}
${inputs([0, 'vec3 aPos'], [1, 'vec4 aColor'], [2, 'vec2 aUV'], [3, 'float aMat'], [4, 'vec4 aPaint'], [5, 'int aPart'])}
uniform mat4 uProj, uView;
out vec3 vPos; out vec4 vColor; out vec2 vUV;
flat out vec4 vPaint; flat out int vPart; flat out int vMat; flat out int vFace;
void main() {
  vec4 p = uView * vec4(aPos, 1.0);
  vPos = p.xyz; vColor = aColor; vUV = aUV; vPaint = aPaint; vPart = aPart; vMat = int(floor(aMat + 0.5));
  vFace = gl_VertexID / 3;
  gl_Position = uProj * p;
}`;

const LOOK_FRAG = `${HEAD}
in vec3 vPos; in vec4 vColor; in vec2 vUV;
flat in vec4 vPaint; flat in int vPart; flat in int vMat;
uniform int uPass;
uniform sampler2D uTex;
out vec4 outColor;
${LIGHT}
void main() {
  if (vPaint.a < 0.25 || vMat != uPass) discard;
  vec3 base = vColor.rgb;
  if (vMat >= 0) {
    vec4 texel = texture(uTex, vec2(vUV.x, 1.0 - vUV.y));
    if (texel.a < CUT_OUT) discard;
    base *= texel.rgb;
  }
  outColor = vec4(light(base, normalize(cross(dFdx(vPos), dFdy(vPos))), normalize(-vPos), vPaint.a, vPart), 1.0);
}`;

// face id + 1 as RGB, for picking
const ID_OUT = 'vec4(float((vFace + 1) & 255), float(((vFace + 1) >> 8) & 255), float(((vFace + 1) >> 16) & 255), 255.0) / 255.0';
const ID_FRAG = `${HEAD}
flat in vec4 vColor; flat in int vFace;
out vec4 outColor;
void main() {
  if (vColor.a < 0.25) discard;
  outColor = ${ID_OUT};
}`;

// the same in the model's own look: a click on a cut-out texel goes through to what is seen behind it
const ID_LOOK_FRAG = `${HEAD}
in vec2 vUV; flat in vec4 vPaint; flat in int vMat; flat in int vFace;
uniform int uPass;
uniform sampler2D uTex;
out vec4 outColor;
void main() {
  if (vPaint.a < 0.25 || vMat != uPass) discard;
  if (vMat >= 0 && texture(uTex, vec2(vUV.x, 1.0 - vUV.y)).a < CUT_OUT) discard;
  outColor = ${ID_OUT};
}`;

function softwareGL() {
  const probe = document.createElement('canvas').getContext('webgl2');
  const info = probe && probe.getExtension('WEBGL_debug_renderer_info');
  const name = info ? String(probe.getParameter(info.UNMASKED_RENDERER_WEBGL)) : '';
  if (probe) probe.getExtension('WEBGL_lose_context')?.loseContext();
  return /swiftshader|llvmpipe|software/i.test(name);
}

function compileProgram(gl, vsrc, fsrc) {
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
  for (let i = 0; i < gl.getProgramParameter(prog, gl.ACTIVE_UNIFORMS); i++) {
    const name = gl.getActiveUniform(prog, i).name;
    uni[name] = gl.getUniformLocation(prog, name);
  }
  return { prog, uni };
}

const vec = {
  sub: (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]],
  cross: (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]],
  norm: (a) => { const l = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / l, a[1] / l, a[2] / l]; },
  dot: (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2],
};

// each face's unit normal at its three corners, as normalized bytes (x, y, z, 0)
function faceNormals(corners, nFaces) {
  const out = new Int8Array(nFaces * 12);
  for (let f = 0; f < nFaces; f++) {
    const o = f * 9;
    const a = [corners[o + 3] - corners[o], corners[o + 4] - corners[o + 1], corners[o + 5] - corners[o + 2]];
    const b = [corners[o + 6] - corners[o], corners[o + 7] - corners[o + 1], corners[o + 8] - corners[o + 2]];
    const n = vec.norm(vec.cross(a, b));
    for (let k = 0; k < 3; k++) out.set([n[0] * 127, n[1] * 127, n[2] * 127, 0], f * 12 + k * 4);
  }
  return out;
}

// The orbit camera around a target: yaw, pitch, distance.
function createCamera(canvas) {
  let radius = 1, c = null;
  const eye = () => {
    const cp = Math.cos(c.pitch);
    return [c.target[0] + c.dist * cp * Math.sin(c.yaw), c.target[1] + c.dist * Math.sin(c.pitch),
      c.target[2] + c.dist * cp * Math.cos(c.yaw)];
  };
  const axes = () => {
    const z = vec.norm(vec.sub(eye(), c.target));
    const x = vec.norm(vec.cross([0, 1, 0], z));
    return [x, vec.cross(z, x), z];
  };
  const clamp = (d) => Math.max(radius * 0.3, Math.min(radius * 20, d));
  return {
    get ready() { return c !== null; },
    home(r) {  // the whole model in view, in a tall window (a phone) too
      radius = r || radius;
      const aspect = canvas.clientWidth / Math.max(canvas.clientHeight, 1);
      const half = Math.min(FOV / 2, Math.atan(Math.tan(FOV / 2) * aspect));
      c = { yaw: 0.65, pitch: 0.38, dist: 1.08 * radius / Math.sin(half), target: [0, 0, 0] };
    },
    forget() { c = null; },
    orbit(dx, dy) { c.yaw -= dx; c.pitch = Math.max(-1.55, Math.min(1.55, c.pitch + dy)); },
    zoom(factor) { c.dist = clamp(c.dist * factor); },
    pan(dx, dy) {
      const [x, y] = axes();
      const k = 2 * c.dist * Math.tan(FOV / 2) / Math.max(canvas.clientHeight, 1);
      for (let i = 0; i < 3; i++) c.target[i] += (-dx * x[i] + dy * y[i]) * k;
    },
    view() {
      const e = eye(), [x, y, z] = axes();
      return new Float32Array([x[0], y[0], z[0], 0, x[1], y[1], z[1], 0, x[2], y[2], z[2], 0,
        -vec.dot(x, e), -vec.dot(y, e), -vec.dot(z, e), 1]);
    },
    proj(aspect) {
      const near = Math.max(c.dist - 2 * radius, c.dist * 0.02), far = c.dist + 2 * radius;
      const f = 1 / Math.tan(FOV / 2);
      return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) / (near - far), -1,
        0, 0, 2 * far * near / (near - far), 0]);
    },
    info() {
      return { eye: eye(), target: c.target.slice(), up: [0, 1, 0], fov_deg: FOV * 180 / Math.PI,
        width: canvas.width, height: canvas.height };
    },
  };
}

// The scene: null where the browser has no WebGL2. Software renderers
// (SwiftShader, llvmpipe) get no multisampling: there it costs more than the
// rest of a frame.
function createScene(canvas) {
  const gl = canvas.getContext('webgl2', { antialias: !softwareGL(), alpha: true });
  if (!gl) return null;
  const programs = { parts: compileProgram(gl, PARTS_VERT, PARTS_FRAG), look: compileProgram(gl, LOOK_VERT, LOOK_FRAG),
    ids: compileProgram(gl, PARTS_VERT, ID_FRAG), lookIds: compileProgram(gl, LOOK_VERT, ID_LOOK_FRAG) };
  const camera = createCamera(canvas);
  const mesh = { key: null, nFaces: 0, vao: null, buffers: [], textures: [] };

  function attribute(loc, data, size, type, normalized) {
    const buf = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
    gl.enableVertexAttribArray(loc);
    gl.vertexAttribPointer(loc, size, type, normalized, 0, 0);
    mesh.buffers.push(buf);
  }

  async function image(url) {
    const img = new Image();
    img.src = url;
    await img.decode();
    const tex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, img);
    gl.generateMipmap(gl.TEXTURE_2D);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR_MIPMAP_LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.REPEAT);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.REPEAT);
    return tex;
  }

  function free() {
    if (mesh.vao) gl.deleteVertexArray(mesh.vao);
    mesh.buffers.forEach((b) => gl.deleteBuffer(b));
    mesh.textures.forEach((t) => gl.deleteTexture(t));
    Object.assign(mesh, { key: null, nFaces: 0, vao: null, buffers: [], textures: [] });
    camera.forget();
  }

  // m: Payload.mesh(...)
  async function load(m) {
    free();
    const F = m.nFaces, corners = new Float32Array(F * 9);
    for (let i = 0; i < F * 3; i++) {
      const v = m.faces[i] * 3;
      corners[i * 3] = m.positions[v]; corners[i * 3 + 1] = m.positions[v + 1]; corners[i * 3 + 2] = m.positions[v + 2];
    }
    const textures = [];
    for (const url of m.textures) textures.push(await image(url));
    mesh.vao = gl.createVertexArray();
    gl.bindVertexArray(mesh.vao);
    attribute(0, corners, 3, gl.FLOAT, false);
    attribute(6, faceNormals(corners, F), 4, gl.BYTE, true);
    if (m.colors) attribute(1, m.colors, 4, gl.UNSIGNED_BYTE, true);
    else { gl.disableVertexAttribArray(1); gl.vertexAttrib4f(1, m.color[0] / 255, m.color[1] / 255, m.color[2] / 255, 1); }
    if (m.uv && m.material) {
      attribute(2, m.uv, 2, gl.FLOAT, false);
      const perCorner = new Float32Array(F * 3);
      for (let f = 0; f < F; f++) perCorner.fill(m.material[f], f * 3, f * 3 + 3);
      attribute(3, perCorner, 1, gl.FLOAT, false);
    } else {
      [2, 3].forEach((loc) => gl.disableVertexAttribArray(loc));
      gl.vertexAttrib2f(2, 0, 0);
      gl.vertexAttrib1f(3, -1);
    }
    gl.bindVertexArray(null);
    gl.vertexAttrib4f(4, 1, 1, 1, 1);  // unpainted: every face shown, none dimmed (painting.js)
    gl.vertexAttribI4i(5, -1, 0, 0, 0);
    Object.assign(mesh, { key: m.key, nFaces: F, textures });
    camera.home(m.radius);
  }

  function use(program) {
    gl.useProgram(program.prog);
    gl.uniformMatrix4fv(program.uni.uProj, false, camera.proj(canvas.width / Math.max(canvas.height, 1)));
    gl.uniformMatrix4fv(program.uni.uView, false, camera.view());
    gl.bindVertexArray(mesh.vao);
  }

  // the faces into the bound framebuffer, (width, height): the parts' colours (painted) with
  // programs.parts, else the model's own look with programs.look, untextured faces, then one pass a texture
  function frame(width, height, painted, look, hover, programs) {
    gl.viewport(0, 0, width, height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    if (!mesh.key || !camera.ready) return;
    gl.enable(gl.DEPTH_TEST);
    const p = painted && look !== 'original' ? programs.parts : programs.look;
    use(p);
    if (p.uni.uHover) gl.uniform1i(p.uni.uHover, hover);
    if (p === programs.parts) {
      gl.drawArrays(gl.TRIANGLES, 0, mesh.nFaces * 3);
    } else {
      gl.uniform1i(p.uni.uTex, 0);
      gl.activeTexture(gl.TEXTURE0);
      for (const t of [-1, ...mesh.textures.keys()]) {
        gl.bindTexture(gl.TEXTURE_2D, t >= 0 ? mesh.textures[t] : null);
        gl.uniform1i(p.uni.uPass, t);
        gl.drawArrays(gl.TRIANGLES, 0, mesh.nFaces * 3);
      }
    }
    gl.bindVertexArray(null);
  }

  // one frame on the canvas
  function draw(painted, look, hover) {
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    frame(canvas.width, canvas.height, painted, look, hover, { parts: programs.parts, look: programs.look });
  }

  // face id + 1 as RGB into the bound framebuffer (picking.js), of the faces draw() shows
  function drawIds(width, height, painted, look) {
    frame(width, height, painted, look, -1, { parts: programs.ids, look: programs.lookIds });
  }

  // wait until every frame asked for is rendered (gl.finish alone does not wait in Chrome)
  function finish() {
    gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
  }

  return { gl, canvas, camera, mesh, load, free, draw, drawIds, finish };
}
