"""The Qt user interface. It only presents: all work happens in studio.core via studio.workers."""
