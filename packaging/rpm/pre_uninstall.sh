# livescan %preun ($1: 0 = erase, 1 = upgrade). On erase stop and disable the timer and the
# service (as %systemd_preun); on upgrade leave them: a oneshot is not restarted.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now livescan.timer livescan.service >/dev/null 2>&1 || :
fi
