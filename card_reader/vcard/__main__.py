from card_reader.cli import vcard_command

vcard_command(prog_name="satukartu vcard")
