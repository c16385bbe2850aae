# livescan %post ($1: 1 = install, 2 = upgrade). cargo-generate-rpm writes no systemd
# scriptlets, so these follow what %systemd_post does: reload units, enable nothing (the
# admin enables livescan.timer once the config and the secret are in place).
install -d -m 0700 /etc/livescan/credentials
install -d -m 0700 /var/lib/livescan /var/lib/livescan/exports
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
