// PartScope viewer, scene.js: the WebGL2 context, the shaders, the mesh's
// buffers and textures, the orbit camera, and drawing a frame (the parts'
// colours come from painting.js, which binds its textures to units 1-3).

const TEX_W = 2048;          // row width of the per-face and per-part data textures
const FOV = 35 * Math.PI / 180;

const SCENE_VERT = `#version 300 es
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

const SCENE_FRAG = `#version 300 es
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

const SCENE_FRAG_ID = `#version 300 es
precision highp float; precision highp int;
flat in int vFace; flat in vec4 vPartColor;
uniform int uHasLabels;
out vec4 outColor;
void main() {
  if (uHasLabels == 1 && vPartColor.a < 0.5) discard;
  int id = vFace + 1;
  outColor = vec4(float(id & 255), float((id >> 8) & 255), float((id >> 16) & 255), 255.0) / 255.0;
}`;

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
    home(r) { radius = r || radius; c = { yaw: 0.65, pitch: 0.38, dist: 1.08 * radius / Math.sin(FOV / 2), target: [0, 0, 0] }; },
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

// The scene: null where the browser has no WebGL2.
function createScene(canvas) {
  const gl = canvas.getContext('webgl2', { antialias: true, alpha: true });
  if (!gl) return null;
  const programs = { shade: compileProgram(gl, SCENE_VERT, SCENE_FRAG), ids: compileProgram(gl, SCENE_VERT, SCENE_FRAG_ID) };
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
    Object.assign(mesh, { key: m.key, nFaces: F, textures });
    camera.home(m.radius);
  }

  function use(program, paint) {
    gl.useProgram(program.prog);
    gl.uniformMatrix4fv(program.uni.uProj, false, camera.proj(canvas.width / Math.max(canvas.height, 1)));
    gl.uniformMatrix4fv(program.uni.uView, false, camera.view());
    paint.bind(program);
    gl.bindVertexArray(mesh.vao);
  }

  // one frame: the parts' colours (look 'parts') or the model's own look
  function draw(paint, look, hover) {
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    if (!mesh.key || !camera.ready) return;
    gl.enable(gl.DEPTH_TEST);
    const { shade } = programs;
    use(shade, paint);
    const original = look === 'original' || !paint.hasLabels;
    gl.uniform1i(shade.uni.uLook, original ? 1 : 0);
    gl.uniform1i(shade.uni.uHover, hover);
    gl.uniform1i(shade.uni.uTex, 0);
    gl.activeTexture(gl.TEXTURE0);
    // parts: one pass; the own look: untextured faces, then one pass per texture
    const passes = original ? [-1, ...mesh.textures.keys()] : [-2];
    for (const t of passes) {
      gl.bindTexture(gl.TEXTURE_2D, t >= 0 ? mesh.textures[t] : null);
      gl.uniform1i(shade.uni.uPass, t);
      gl.drawArrays(gl.TRIANGLES, 0, mesh.nFaces * 3);
    }
    gl.bindVertexArray(null);
  }

  // face id + 1 as RGB into the bound framebuffer (picking.js)
  function drawIds(paint, width, height) {
    gl.viewport(0, 0, width, height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    if (!mesh.key || !camera.ready) return;
    gl.enable(gl.DEPTH_TEST);
    use(programs.ids, paint);
    gl.drawArrays(gl.TRIANGLES, 0, mesh.nFaces * 3);
    gl.bindVertexArray(null);
  }

  return { gl, canvas, camera, mesh, load, free, draw, drawIds };
}
