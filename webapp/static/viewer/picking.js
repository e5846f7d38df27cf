// PartScope viewer, picking.js: the face under a point of the canvas, read
// from an id buffer (face id + 1 as RGB) drawn off screen once per camera
// pose, paint and look, and read back whole. shown() says what the view
// draws: [painted, look] (scene.draw's).

function createPicking(scene, shown) {
  const { gl, canvas } = scene;
  let fbo = null, color = null, depth = null, buffer = null, width = 0, height = 0, stale = true;

  function ensure() {
    if (fbo && width === canvas.width && height === canvas.height) return;
    if (fbo) { gl.deleteFramebuffer(fbo); gl.deleteRenderbuffer(color); gl.deleteRenderbuffer(depth); }
    width = canvas.width; height = canvas.height;
    fbo = gl.createFramebuffer();
    color = gl.createRenderbuffer();
    depth = gl.createRenderbuffer();
    gl.bindRenderbuffer(gl.RENDERBUFFER, color);
    gl.renderbufferStorage(gl.RENDERBUFFER, gl.RGBA8, width, height);
    gl.bindRenderbuffer(gl.RENDERBUFFER, depth);
    gl.renderbufferStorage(gl.RENDERBUFFER, gl.DEPTH_COMPONENT24, width, height);
    gl.bindFramebuffer(gl.FRAMEBUFFER, fbo);
    gl.framebufferRenderbuffer(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.RENDERBUFFER, color);
    gl.framebufferRenderbuffer(gl.FRAMEBUFFER, gl.DEPTH_ATTACHMENT, gl.RENDERBUFFER, depth);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    buffer = new Uint8Array(width * height * 4);
    stale = true;
  }

  function read() {
    ensure();
    gl.bindFramebuffer(gl.FRAMEBUFFER, fbo);
    scene.drawIds(width, height, ...shown());
    gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, buffer);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    stale = false;
  }

  // face id under a point in CSS pixels of the canvas, or -1
  function pick(cssX, cssY) {
    if (!scene.mesh.key || !canvas.clientWidth || !canvas.clientHeight) return -1;
    if (stale || width !== canvas.width || height !== canvas.height) read();
    const r = canvas.width / canvas.clientWidth;
    const x = Math.floor(cssX * r), y = height - 1 - Math.floor(cssY * r);
    if (x < 0 || y < 0 || x >= width || y >= height) return -1;
    const i = (y * width + x) * 4;
    return (buffer[i] | (buffer[i + 1] << 8) | (buffer[i + 2] << 16)) - 1;
  }

  return { pick, invalidate() { stale = true; } };
}
