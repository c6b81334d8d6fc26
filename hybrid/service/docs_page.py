"""The ``/docs`` page of the HTTP API: self-contained (no CDN, no script or style from elsewhere), so it
works on a machine without internet. It reads ``/openapi.json`` and lists every route with its
parameters, request body and responses, the schemas expanded from ``components``."""

from __future__ import annotations

import html

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__ - API</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 980px; padding: 1em 1.5em; color: #222; }
h1 { margin-bottom: 0.2em; } .muted { color: #666; }
details { border: 1px solid #ddd; border-radius: 6px; margin: 0.5em 0; padding: 0.3em 0.8em; }
summary { cursor: pointer; font-family: ui-monospace, monospace; }
.m { display: inline-block; min-width: 4.5em; font-weight: bold; }
.get { color: #0a6; } .post { color: #06c; } .patch { color: #a60; } .delete { color: #c22; } .put { color: #70a; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 13px; }
table { border-collapse: collapse; } td, th { border-bottom: 1px solid #eee; padding: 0.2em 0.6em; text-align: left; }
</style>
</head>
<body>
<h1>__TITLE__</h1>
<p class="muted">Rendered from <a href="__SPEC__">__SPEC__</a> by a page served with the API (works offline).</p>
<div id="info"></div>
<div id="routes">Loading __SPEC__ ...</div>
<script>
"use strict";
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const kid of kids) e.append(kid);
  return e;
}
function expand(schema, spec, seen) {
  if (!schema || typeof schema !== "object") return schema;
  if (Array.isArray(schema)) return schema.map((s) => expand(s, spec, seen));
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    if (seen.includes(name)) return {$ref: name};
    return expand(spec.components.schemas[name], spec, seen.concat([name]));
  }
  const out = {};
  for (const [k, v] of Object.entries(schema)) out[k] = expand(v, spec, seen);
  return out;
}
function block(title, value, spec) {
  return el("div", {}, el("strong", {}, title), el("pre", {}, JSON.stringify(expand(value, spec, []), null, 2)));
}
fetch("__SPEC__").then((r) => r.json()).then((spec) => {
  document.getElementById("info").append(el("p", {}, (spec.info.description || "") + " Version " + spec.info.version + "."));
  const routes = document.getElementById("routes");
  routes.textContent = "";
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const d = el("details", {});
      d.append(el("summary", {}, el("span", {class: "m " + method}, method.toUpperCase()), path + "  ",
                  el("span", {class: "muted"}, op.summary || "")));
      if (op.description) d.append(el("p", {}, op.description));
      if (op.parameters && op.parameters.length) {
        const t = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "schema")));
        for (const p of op.parameters) {
          t.append(el("tr", {}, el("td", {}, p.name + (p.required ? " *" : "")), el("td", {}, p.in),
                      el("td", {}, JSON.stringify(expand(p.schema, spec, [])))));
        }
        d.append(t);
      }
      if (op.requestBody) {
        const c = op.requestBody.content || {};
        const body = c["application/json"] || Object.values(c)[0] || {};
        d.append(block("request body", body.schema, spec));
      }
      for (const [code, resp] of Object.entries(op.responses || {})) {
        const c = (resp.content || {})["application/json"];
        d.append(block("response " + code + " " + (resp.description || ""), c ? c.schema : {}, spec));
      }
      routes.append(d);
    }
  }
}).catch((err) => { document.getElementById("routes").textContent = "Could not load __SPEC__: " + err; });
</script>
</body>
</html>
"""


def docs_html(title: str, openapi_url: str = "/openapi.json") -> str:
    """The HTML of the offline API documentation page for the OpenAPI document at ``openapi_url``."""
    return _PAGE.replace("__TITLE__", html.escape(title)).replace("__SPEC__", html.escape(openapi_url, quote=True))
