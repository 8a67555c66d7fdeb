"""The bridge between the Qt-free engine and the UI: runs core generators on worker threads and
re-emits what they yield as Qt signals on the GUI thread."""
