#!/bin/sh
echo "hello from a slim image"
