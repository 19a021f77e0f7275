"""An agent terminal's offline mode: redeem while the link to the hub is down.

The daemon keeps what it needs to judge a card by itself (`trust`: the city's CA
chain and its latest CRL, from the hub's bundle), lets the card prove itself and sign
the redemption (`redeem`), keeps what was signed in a local queue that survives a
power cut (`queue`), and watches the link, refreshing the bundle and sending the
queue once the hub answers again (`link`). `mode.OfflineMode` puts them together for
the daemon and its bridge. The wire to the hub is `card_reader.offline_wire`.
"""
