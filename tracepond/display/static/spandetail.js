/* tracepond viewer: one span's detail in tabs (Chat, Inputs/Outputs, Attributes, Events).
 * Chat reads the GenAI semantic-convention messages (gen_ai.input.messages, ...output.messages,
 * gen_ai.system_instructions) and falls back to OpenAI-shaped inputs/outputs. */
(function (global) {
  "use strict";
  var TP = global.TP;
  var h = TP.h, fmt = TP.fmt;

  function asArray(value) {
    value = TP.maybeJson(value);
    if (value === null || value === undefined) return [];
    return Array.isArray(value) ? value : [value];
  }

  function textOf(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  // One message part in a common shape: {kind: text|tool_call|tool_result|other, ...}.
  function normalizePart(part) {
    if (typeof part === "string") return { kind: "text", text: part };
    if (!part || typeof part !== "object") return { kind: "text", text: textOf(part) };
    var type = part.type;
    if (type === "text" || type === "input_text" || type === "output_text") {
      return { kind: "text", text: textOf(part.content !== undefined ? part.content : part.text) };
    }
    if (type === "reasoning") return { kind: "reasoning", text: textOf(part.content) };
    if (type === "tool_call" || type === "function") {
      var fn = part.function || {};
      return { kind: "tool_call", id: part.id, name: part.name || fn.name,
        args: TP.maybeJson(part.arguments !== undefined ? part.arguments : fn.arguments) };
    }
    if (type === "tool_call_response") return { kind: "tool_result", id: part.id, result: TP.maybeJson(part.response) };
    return { kind: "other", value: part };
  }

  // A message (GenAI convention or OpenAI chat shape) -> {role, parts, finish}.
  function normalizeMessage(msg) {
    if (!msg || typeof msg !== "object") return { role: "message", parts: [normalizePart(msg)] };
    var parts = [];
    if (Array.isArray(msg.parts)) parts = msg.parts.map(normalizePart);
    else if (Array.isArray(msg.content)) parts = msg.content.map(normalizePart);
    else if (msg.content !== undefined && msg.content !== null) parts = [{ kind: "text", text: textOf(msg.content) }];
    (msg.tool_calls || []).forEach(function (call) {
      parts.push(normalizePart({ type: "tool_call", id: call.id, name: call.name, function: call.function,
        arguments: call.arguments }));
    });
    if (msg.role === "tool" && msg.tool_call_id && parts.length && parts[0].kind === "text") {
      parts = [{ kind: "tool_result", id: msg.tool_call_id, result: TP.maybeJson(parts[0].text) }];
    }
    return { role: msg.role || "message", parts: parts, finish: msg.finish_reason };
  }

  function chatMessages(span) {
    var attrs = span.attributes || {};
    var system = asArray(attrs["gen_ai.system_instructions"]).map(normalizePart);
    var input = asArray(attrs["gen_ai.input.messages"]);
    var output = asArray(attrs["gen_ai.output.messages"]);
    var fromInputs = false;
    if (!input.length) {
      var inputs = TP.maybeJson(span.inputs);
      if (inputs && Array.isArray(inputs.messages)) { input = inputs.messages; fromInputs = true; }
    }
    if (!output.length) {
      var outputs = TP.maybeJson(span.outputs);
      if (outputs && Array.isArray(outputs.choices)) {
        output = outputs.choices.map(function (c) {
          var m = c.message || c.delta || {};
          return { role: m.role || "assistant", content: m.content, tool_calls: m.tool_calls, finish_reason: c.finish_reason };
        });
      }
    }
    if (!output.length && fromInputs && typeof TP.maybeJson(span.outputs) === "string") {
      output = [{ role: "assistant", content: TP.maybeJson(span.outputs) }];
    }
    var messages = input.map(normalizeMessage);
    if (system.length) messages.unshift({ role: "system", parts: system });
    var outMessages = output.map(normalizeMessage);
    outMessages.forEach(function (m) { m.output = true; });
    return messages.concat(outMessages);
  }

  function renderPart(part) {
    if (part.kind === "text") return h("div.msg-text", null, part.text);
    if (part.kind === "reasoning") return h("details.msg-reasoning", null, h("summary", null, "reasoning"), h("div.msg-text", null, part.text));
    if (part.kind === "tool_call") {
      return h("div.tool-card", null,
        h("div.tool-head", null, h("span.tool-icon", null, "ƒ"), h("span.tool-name", null, part.name || "tool"),
          part.id ? h("code.tool-id", null, part.id) : null),
        TP.jsonTree(part.args === undefined ? {} : part.args, 3));
    }
    if (part.kind === "tool_result") {
      return h("div.tool-card.result", null,
        h("div.tool-head", null, h("span.tool-icon", null, "↩"), h("span.tool-name", null, "result"),
          part.id ? h("code.tool-id", null, part.id) : null),
        typeof part.result === "object" && part.result !== null ? TP.jsonTree(part.result, 2) : h("div.msg-text", null, textOf(part.result)));
    }
    return TP.jsonTree(part.value, 1);
  }

  function renderChat(messages) {
    var box = h("div.chat");
    messages.forEach(function (msg) {
      var role = String(msg.role || "message").toLowerCase();
      var bubble = h("div.msg.role-" + role.replace(/[^a-z_]/g, ""), null,
        h("div.msg-role", null, role, msg.output ? h("span.msg-tag", null, "output") : null,
          msg.finish ? h("span.msg-tag", null, msg.finish) : null),
        msg.parts.map(renderPart));
      if (role === "system") {
        box.appendChild(h("details.msg-system", { open: true }, h("summary", null, "System prompt"), bubble));
      } else {
        box.appendChild(bubble);
      }
    });
    return box;
  }

  function renderEvents(events, info) {
    if (!events || !events.length) return h("div.empty", null, "No events on this span.");
    return h("div.events", null, events.map(function (ev) {
      var attrs = ev.attributes || {};
      var isExc = ev.name === "exception";
      var rest = {};
      Object.keys(attrs).forEach(function (k) { if (!isExc || k.indexOf("exception.") !== 0) rest[k] = attrs[k]; });
      return h("div.event" + (isExc ? ".exception" : ""), null,
        h("div.event-head", null, h("span.event-name", null, ev.name),
          h("span.muted", null, ev.offset_ms !== undefined && ev.offset_ms !== null ? "+" + fmt.duration(ev.offset_ms) : fmt.time(ev.time))),
        isExc ? h("div.exc-title", null, textOf(attrs["exception.type"]) + (attrs["exception.message"] ? ": " + textOf(attrs["exception.message"]) : "")) : null,
        isExc && attrs["exception.stacktrace"] ? h("pre.stack", null, textOf(attrs["exception.stacktrace"])) : null,
        Object.keys(rest).length ? TP.jsonTree(rest, 1) : null);
    }));
  }

  function renderAttributes(attrs) {
    var keys = Object.keys(attrs || {}).sort();
    if (!keys.length) return h("div.empty", null, "No attributes.");
    return h("table.kv", null, h("tbody", null, keys.map(function (k) {
      var v = TP.maybeJson(attrs[k]);
      return h("tr", null, h("th", null, k), h("td", null, v !== null && typeof v === "object" ? TP.jsonTree(v, 1) : textOf(v)));
    })));
  }

  function section(title, value) {
    var parsed = TP.maybeJson(value);
    var body = parsed === null || parsed === undefined ? h("div.empty", null, "None recorded.")
      : typeof parsed === "object" ? TP.jsonTree(parsed, 2) : h("pre.plain", null, textOf(parsed));
    return h("div.io-section", null, h("h3", null, title), body);
  }

  function spanDetail(span, info) {
    var messages = chatMessages(span);
    var tabs = [];
    if (messages.length) tabs.push(["Chat", function () { return renderChat(messages); }]);
    tabs.push(["Inputs / Outputs", function () { return h("div", null, section("Inputs", span.inputs), section("Outputs", span.outputs)); }]);
    tabs.push(["Attributes", function () { return renderAttributes(span.attributes); }]);
    var evCount = (span.events || []).length;
    tabs.push(["Events" + (evCount ? " (" + evCount + ")" : ""), function () { return renderEvents(span.events, info); }]);
    var body = h("div.tab-body"), bar = h("div.tabs", { role: "tablist" });
    var buttons = tabs.map(function (tab, i) {
      var btn = h("button.tab", { type: "button", role: "tab", onclick: function () { show(i); } }, tab[0]);
      bar.appendChild(btn);
      return btn;
    });
    function show(i) {
      buttons.forEach(function (b, j) { b.classList.toggle("active", i === j); b.setAttribute("aria-selected", String(i === j)); });
      TP.clear(body).appendChild(tabs[i][1]());
    }
    var hasException = (span.events || []).some(function (e) { return e.name === "exception"; });
    show(span.status === "ERROR" && hasException && !messages.length ? tabs.length - 1 : 0);
    var facts = h("div.facts");
    [["type", span.span_type], ["duration", span.in_progress ? "running" : fmt.duration(span.duration_ms)],
      ["provider", span.provider], ["model", span.model],
      ["tokens", span.input_tokens || span.output_tokens ? fmt.int(span.input_tokens || 0) + " in · " + fmt.int(span.output_tokens || 0) + " out" : null],
      ["cost", span.cost_usd ? fmt.cost(span.cost_usd) : null], ["span", span.span_id]].forEach(function (f) {
      if (f[1]) facts.appendChild(h("span.fact", null, h("span.fact-key", null, f[0]), String(f[1])));
    });
    var prompt = promptFact(span.attributes || {});
    if (prompt) facts.appendChild(prompt);
    return h("div.span-detail", null,
      h("div.sd-head", null, h("h2", null, span.name || "(unnamed)"), TP.statusBadge(span.status, span.in_progress)),
      span.status_message ? h("div.error-box", null, span.status_message) : null,
      facts, bar, body);
  }

  // The prompt versions a span loaded (tracepond.load_prompt), each linking to its Prompts page.
  function promptFact(attrs) {
    var loaded = TP.maybeJson(attrs["tracepond.prompts"]);
    if (!Array.isArray(loaded) || !loaded.length) return null;
    return h("span.fact.prompt-fact", null, h("span.fact-key", null, "prompt"), loaded.map(function (entry, i) {
      var cut = String(entry).lastIndexOf("/"), name = String(entry).slice(0, cut), version = String(entry).slice(cut + 1);
      var label = name + " v" + version;
      if (!TP.pages || !TP.pages.prompt) return [i ? ", " : null, label];  // a notebook: no Prompts page
      return [i ? ", " : null, h("a", { href: "#/prompts/" + encodeURIComponent(name) + "?version=" + encodeURIComponent(version) }, label)];
    }));
  }

  TP.spanDetail = spanDetail;
  TP.chatMessages = chatMessages;
  TP.renderChat = renderChat;
})(typeof window !== "undefined" ? window : this);
