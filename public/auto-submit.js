// Presses the button marked data-auto-submit once the page is ready: a logout the client
// proved with its id_token_hint goes ahead without asking. Without script, the person
// presses it.
document.addEventListener('DOMContentLoaded', function () {
  var button = document.querySelector('button[data-auto-submit]');
  if (button) button.click();
});
