// Loads the onsite web app: the wasm module mounts the page for the current path.
import init from "/app.js";

init().catch((error) => {
  const note = document.createElement("p");
  note.className = "problem";
  note.setAttribute("role", "alert");
  note.textContent = "This browser could not start the check (" + error + "). Please use a current version of Chrome, Edge, Firefox or Safari.";
  document.body.append(note);
});
