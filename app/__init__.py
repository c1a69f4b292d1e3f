"""The application: sources, pipeline, viewers, exports, command line."""
