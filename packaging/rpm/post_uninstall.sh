# livescan %postun ($1: 0 = erase, 1 = upgrade). Reload units; the config (%config(noreplace):
# kept as .rpmsave when changed), secrets and exports are the admin's and stay.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
