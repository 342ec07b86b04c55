/**
 * A classic script, not a module: it runs even when the app's modules cannot. A page loaded while this app
 * was being deployed can get some modules of the old release and some of the new (asset URLs are not
 * versioned: server/routes/ui.ts), and one missing export stops the whole module graph: the page said
 * "Loading…" for good. By the window's load event the app's module has run (app.js marks it), or it never will.
 */
window.addEventListener('load', () => {
  if (document.documentElement.dataset.appStarted) return;
  const status = document.getElementById('boot-status');
  if (!status) return;
  const reload = document.createElement('button');
  reload.type = 'button';
  reload.className = 'btn btn--small';
  reload.dataset.testid = 'boot-reload';
  reload.textContent = 'Reload';
  reload.addEventListener('click', () => location.reload());
  status.className = 'notice notice--error';
  status.setAttribute('role', 'alert');
  status.replaceChildren('The app could not load (it may have been updated while this page was loading). Reload the page. ', reload);
});
