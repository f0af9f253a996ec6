"""HTTP entrypoint: thin routes that decode input, call a handler and encode the answer."""
