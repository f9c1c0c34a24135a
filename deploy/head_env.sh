#!/usr/bin/env bash
# Writes /etc/ebbflow/env on the head: the addresses workers must reach, by the head's private IP, and the
# MariaDB and Redis passwords, each made once. Redis listens on the private network, so it gets a requirepass
# too. Run by cluster.yaml's head_setup_commands; safe to run again (the passwords are kept).
set -euo pipefail
ip="$(hostname -I | awk '{print $1}')"
sudo mkdir -p /etc/ebbflow /var/lib/ebbflow
sudo chown ubuntu /var/lib/ebbflow
password_file=/etc/ebbflow/mysql-password
if ! sudo test -s "$password_file"; then
    openssl rand -hex 16 | sudo tee "$password_file" > /dev/null
    sudo chmod 600 "$password_file"
fi
password="$(sudo cat "$password_file")"
redis_password_file=/etc/ebbflow/redis-password
if ! sudo test -s "$redis_password_file"; then
    openssl rand -hex 24 | sudo tee "$redis_password_file" > /dev/null
    sudo chmod 600 "$redis_password_file"
fi
redis_password="$(sudo cat "$redis_password_file")"
sudo sed -i '/^requirepass /d' /etc/redis/redis.conf
echo "requirepass ${redis_password}" | sudo tee -a /etc/redis/redis.conf > /dev/null
sudo systemctl restart redis-server
sudo mysql -e "CREATE DATABASE IF NOT EXISTS ebbflow;
    CREATE USER IF NOT EXISTS 'ebbflow'@'%' IDENTIFIED BY '${password}';
    ALTER USER 'ebbflow'@'%' IDENTIFIED BY '${password}';
    GRANT ALL ON ebbflow.* TO 'ebbflow'@'%';"
sudo tee /etc/ebbflow/env > /dev/null <<ENV
EBBFLOW_REDIS__URL=redis://${ip}:6379/0
EBBFLOW_REDIS__PASSWORD=${redis_password}
EBBFLOW_PACKS__RANKINGS=redis://:${redis_password}@${ip}:6379/0?prefix=ebbflow:packs:
EBBFLOW_PACKS__INDEX=mysql://ebbflow:${password}@${ip}:3306/ebbflow
ENV
sudo chmod 640 /etc/ebbflow/env
sudo chgrp ubuntu /etc/ebbflow/env
