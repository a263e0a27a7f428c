from propale.cli import main

raise SystemExit(main())
