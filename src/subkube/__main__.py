from subkube.cli import main

main()
