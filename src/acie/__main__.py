from acie.cli.main import main

main()
