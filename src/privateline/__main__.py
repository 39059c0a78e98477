from privateline.app.cli import main

main()
