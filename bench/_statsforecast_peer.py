"""What a user would otherwise run: read the series file and fit and forecast statsforecast's AutoETS,
AutoTheta and SeasonalNaive once, on all cores. The peer ``bench/market_forecast_speed.py`` times
``carsight forecast`` against.

Usage: python bench/_statsforecast_peer.py INPUT.csv OUTPUT.csv HORIZON
"""

import sys

import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive

if __name__ == "__main__":
    source, target, horizon = sys.argv[1], sys.argv[2], int(sys.argv[3])
    df = pd.read_csv(source, parse_dates=["ds"])
    models = [AutoETS(season_length=12), AutoTheta(season_length=12), SeasonalNaive(season_length=12)]
    StatsForecast(models=models, freq="MS", n_jobs=-1).forecast(df=df, h=horizon).to_csv(target, index=False)
