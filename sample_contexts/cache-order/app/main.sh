#!/bin/sh
echo "app running with $(wc -l < /app/deps.txt) dependencies"
