// The symptom checker's chat page. The server renders the start form inside
// <section id="triage" data-session data-csrf>; this module talks to /api/v1/triage/sessions and
// draws the conversation: the patient's words, what was understood, each question with
// Yes / No / Don't know (or, when the opening named no problem, a box to describe it: hazard log
// C25), Back and Finish now, and at the end the advice with safety-netting and the
// conditions that can cause such symptoms (never called a diagnosis), with a link to book.
import { button, el, fetchJSON, sendJSON, setShown } from "./dom.js";

const API = "/api/v1/triage/sessions";
const WORDING = { 404: "This symptom check was not found, or it is not yours." };
const ANSWER_TEXT = { yes: "Yes", no: "No", dont_know: "Don't know" };

class TriageChat {
  constructor(root) {
    this.root = root;
    this.csrf = root.dataset.csrf || "";
    this.form = root.querySelector("#triage-start");
    this.chat = root.querySelector("#triage-chat");
    this.error = root.querySelector("#triage-error");
    this.session = null;
    this.busy = false;
    // What the patient is typing in their own words: kept across a re-render or a refused send.
    this.draft = "";
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.start();
    });
    if (root.dataset.session) this.load(root.dataset.session);
  }

  showError(message) {
    this.error.textContent = message || "";
    setShown(this.error, Boolean(message));
  }

  async call(work) {
    if (this.busy) return;
    this.busy = true;
    this.showError("");
    try {
      this.render(await work());
    } catch (error) {
      this.showError(error.message || "Something went wrong. Please try again.");
      if (error.status === 409 && this.session) this.load(this.session.id);
    } finally {
      this.busy = false;
    }
  }

  start() {
    const complaint = this.form.complaint.value.trim();
    const sex = this.form.querySelector('input[name="sex"]:checked')?.value;
    if (!complaint) return this.showError("Describe what is wrong in a few words.");
    if (!sex) return this.showError("Choose female or male.");
    const country = this.form.country.value;
    this.call(() => sendJSON("POST", API, this.csrf, { complaint, sex, country }, WORDING));
  }

  load(id) {
    this.call(() => fetchJSON(`${API}/${encodeURIComponent(id)}`, WORDING));
  }

  answer(value) {
    const s = this.session;
    this.call(() =>
      sendJSON("POST", `${API}/${encodeURIComponent(s.id)}/answers`, this.csrf, { question: s.question.id, answer: value, version: s.version }, WORDING),
    );
  }

  // The patient's own words (C25): `text`, or null to answer yes/no questions instead.
  describe(text) {
    const s = this.session;
    const body = text === null ? { skip: true, version: s.version } : { text, version: s.version };
    this.call(async () => {
      const reply = await sendJSON("POST", `${API}/${encodeURIComponent(s.id)}/details`, this.csrf, body, WORDING);
      this.draft = "";
      return reply;
    });
  }

  // A text box for the patient's own words, `prefix` naming its elements (the request to describe,
  // or "add something" beside a yes/no question).
  wordsBox(prefix, labelledBy) {
    const box = el("textarea", { id: `${prefix}-text`, name: "text", rows: "3", maxlength: this.root.dataset.max || "2000", "aria-labelledby": labelledBy });
    box.value = this.draft;
    box.addEventListener("input", () => {
      this.draft = box.value;
    });
    const send = button(`${prefix}-send`, "Send");
    send.addEventListener("click", () => {
      const text = box.value.trim();
      if (!text) return this.showError("Describe what is wrong in a few words, or choose to answer questions instead.");
      this.describe(text);
    });
    return { box, send };
  }

  describeForm() {
    const { box, send } = this.wordsBox("triage-describe", "triage-question");
    const skip = button("triage-describe-skip", "Ask me questions instead", "secondary");
    skip.addEventListener("click", () => this.describe(null));
    return el("div", { class: "stack", id: "triage-describe" }, box, el("div", { class: "actions" }, send, " ", skip));
  }

  // Beside a yes/no question: something the patient remembers, in their own words (C25).
  addForm() {
    const { box, send } = this.wordsBox("triage-add", "triage-add-label");
    return el(
      "details",
      { id: "triage-add", open: this.draft ? true : undefined },
      el("summary", { id: "triage-add-label", text: "Something else to tell the checker? Add it in your own words" }),
      el("div", { class: "stack" }, box, el("div", { class: "actions" }, send)),
    );
  }

  correct(finding, reading) {
    const s = this.session;
    this.call(() =>
      sendJSON("POST", `${API}/${encodeURIComponent(s.id)}/corrections`, this.csrf, { finding, reading, version: s.version }, WORDING),
    );
  }

  // Lets the patient put right what the checker read from their words (hazard log C18): a symptom
  // read the wrong way round, or one they did not mention.
  corrections(session) {
    const rows = session.understood.map((u) => {
      const name = el("span", { text: u.name });
      const flip = u.present
        ? button(`correct-${u.finding}-absent`, "I don't have this", "secondary")
        : button(`correct-${u.finding}-present`, "I do have this", "secondary");
      flip.addEventListener("click", () => this.correct(u.finding, u.present ? "absent" : "present"));
      const drop = button(`correct-${u.finding}-not_mentioned`, "I didn't say this", "secondary");
      drop.addEventListener("click", () => this.correct(u.finding, "not_mentioned"));
      return el("li", { dataset: { finding: u.finding } }, name, " ", flip, " ", drop);
    });
    return el(
      "details",
      { id: "triage-correct" },
      el("summary", { text: "Something not right? Correct it" }),
      el("ul", { class: "plain" }, ...rows),
    );
  }

  step(action) {
    const s = this.session;
    this.call(() => sendJSON("POST", `${API}/${encodeURIComponent(s.id)}/${action}`, this.csrf, { version: s.version }, WORDING));
  }

  bubble(who, ...content) {
    return el("div", { class: `bubble ${who}` }, ...content);
  }

  render(session) {
    this.session = session;
    setShown(this.form, false);
    const log = [];
    log.push(this.bubble("patient", el("p", { text: session.complaint })));
    for (const text of session.details || []) log.push(this.bubble("patient detail", el("p", { text })));
    const describing = session.status === "open" && session.question?.kind === "describe";
    if (session.understood.length) {
      const words = session.understood.map((u) => (u.present ? "" : "no ") + u.name.toLowerCase() + (u.corrected ? " (corrected)" : ""));
      const readBack = el("p", { id: "triage-understood", text: `I understood: ${words.join(", ")}.` });
      log.push(session.status === "open" ? this.bubble("checker", readBack, this.corrections(session)) : this.bubble("checker", readBack));
    } else if (!describing) {
      log.push(this.bubble("checker", el("p", { id: "triage-understood", text: "I could not pick out specific symptoms, so I will ask some questions." })));
    }
    for (const a of session.answers) {
      log.push(this.bubble("checker", el("p", { text: a.question })));
      log.push(this.bubble("patient answer", el("p", { text: ANSWER_TEXT[a.answer] || a.answer })));
    }
    if (session.status === "open" && session.question) {
      // Crisis signposting stays on screen for the rest of the questions (hazard log C20).
      if (session.crisis) log.push(el("p", { id: "triage-crisis-banner", class: "alert", role: "alert", text: session.crisis }));
      const q = el("p", { id: "triage-question", dataset: { finding: session.question.id, kind: session.question.kind }, text: session.question.text });
      const buttons = describing
        ? this.describeForm()
        : el(
            "div",
            { class: "actions", id: "triage-answers" },
            ...["yes", "no", "dont_know"].map((value) => {
              const b = button(`answer-${value}`, ANSWER_TEXT[value]);
              b.addEventListener("click", () => this.answer(value));
              return b;
            }),
          );
      const more = el("div", { class: "actions" });
      if (session.answers.length) {
        const back = button("triage-back", "Back", "secondary");
        back.addEventListener("click", () => this.step("back"));
        more.append(back);
      }
      const finish = button("triage-finish", "Finish now and see advice", "secondary");
      finish.addEventListener("click", () => this.step("finish"));
      more.append(finish);
      log.push(describing ? this.bubble("checker current", q, buttons, more) : this.bubble("checker current", q, buttons, more, this.addForm()));
      log.push(
        el("p", { class: "muted", text: `If you feel very unwell or think this is an emergency, stop and call ${session.services.emergency_number} now.` }),
      );
    } else if (session.outcome) {
      log.push(this.outcome(session));
    }
    this.chat.replaceChildren(...log);
    const focus =
      this.chat.querySelector("#answer-yes") || this.chat.querySelector("#triage-describe-text") || this.chat.querySelector("#triage-advice h2");
    if (focus) focus.focus?.();
  }

  outcome(session) {
    const o = session.outcome;
    const advice = o.advice;
    const box = el("section", { id: "triage-advice", class: `advice ${o.disposition}`, dataset: { disposition: o.disposition } });
    if (advice.crisis) box.append(el("p", { id: "triage-crisis", class: "alert", role: "alert", text: advice.crisis }));
    box.append(el("h2", { tabindex: "-1", text: advice.headline }), el("p", { text: advice.detail }));
    if (o.red_flags.length) {
      box.append(el("p", { id: "triage-red-flags", text: `Warning signs in your answers: ${o.red_flags.map((r) => r.reason).join("; ")}.` }));
    }
    box.append(el("p", { id: "triage-safety-net", text: advice.safety_net }));
    const list = el("ol", { id: "triage-conditions" });
    for (const c of o.conditions) {
      const strength = c.probability >= 0.5 ? "strong match" : c.probability >= 0.15 ? "possible" : "less likely";
      const why = [];
      if (c.raised_by.length) why.push(`fits: ${c.raised_by.join(", ")}`);
      if (c.lowered_by.length) why.push(`against: ${c.lowered_by.join(", ")}`);
      list.append(el("li", { dataset: { condition: c.id } }, el("strong", { text: c.name }), ` (${strength})`, why.length ? el("br") : null, why.join("; ")));
    }
    box.append(
      el("h3", { text: "Conditions that can cause symptoms like yours" }),
      el("p", { class: "muted", text: "This is not a diagnosis. Only a clinician can tell what is wrong." }),
      list,
      el("p", { class: "muted", id: "triage-disclaimer-end", text: advice.disclaimer }),
    );
    const actions = el("p", { class: "actions" });
    if (!session.consultation_id) {
      actions.append(
        el("a", {
          id: "triage-book",
          class: o.disposition === "emergency" ? "button secondary" : "button",
          href: `/clinic/book?triage=${encodeURIComponent(session.id)}`,
          text: "Book an appointment and share this check with the clinician",
        }),
      );
    }
    actions.append(" ", el("a", { href: "/clinic/triage", text: "Start a new check" }));
    box.append(actions);
    return box;
  }
}

const root = document.getElementById("triage");
if (root) new TriageChat(root);
