// Drag and drop onto the drop zone fills the file input; the form then posts as usual (works without JS too).
(function () {
  var zone = document.getElementById("drop-zone");
  var input = document.getElementById("file-input");
  var chosen = document.getElementById("chosen");
  if (!zone || !input) return;
  function show() {
    var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
    chosen.textContent = names.length ? "Chosen: " + names.join(", ") : "";
  }
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      show();
      if (document.getElementById("url-input").value === "") document.getElementById("match-form").submit();
    }
  });
})();
