// Passkeys on Portcullis' pages. A button marked data-passkey ("register" or "authenticate")
// carries the server's options (data-options, JSON); pressing it runs the browser's WebAuthn
// ceremony through @simplewebauthn/browser (served beside this file as webauthn.js), puts
// the answer in its form's `response` field and sends the form: the server checks it all.
// The button stays hidden where the browser has no WebAuthn (or no script runs): the page's
// other ways in (a code) remain.
document.addEventListener('DOMContentLoaded', function () {
  var lib = window.SimpleWebAuthnBrowser;
  var supported = Boolean(lib && lib.browserSupportsWebAuthn());
  document.querySelectorAll('button[data-passkey]').forEach(function (button) {
    if (!supported) {
      // Say so, rather than leave a page with nothing to press.
      var note = document.getElementById(button.getAttribute('data-status'));
      if (note) note.textContent = button.getAttribute('data-unsupported');
      return;
    }
    button.hidden = false;
    button.addEventListener('click', function () {
      var form = button.form;
      var status = document.getElementById(button.getAttribute('data-status'));
      var options = JSON.parse(button.getAttribute('data-options'));
      var ceremony = button.getAttribute('data-passkey') === 'register' ? lib.startRegistration : lib.startAuthentication;
      button.disabled = true;
      if (status) status.textContent = '';
      ceremony({ optionsJSON: options }).then(
        function (answer) {
          form.elements.response.value = JSON.stringify(answer);
          form.submit();
        },
        function () {
          // Cancelled, timed out, or no matching passkey: the person may try again.
          button.disabled = false;
          if (status) status.textContent = button.getAttribute('data-failed');
        },
      );
    });
  });
});
