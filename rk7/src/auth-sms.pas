{ ===========================================================================
  SMS PDS — функциональная клавиша «Карта по СМС».
  Кассир вводит телефон гостя, гость называет код из СМС, карта применяется к заказу.
  Операция: Сервис → Скрипты, процедура ProcessOperation<код операции>.
  =========================================================================== }
procedure ProcessOperation1001510(Parameter: integer);
var
  phone, pin, answer, sessionId, action: string;
  status, choice: integer;
  done: boolean;
begin
  if not RKCheck.Valid then
  begin
    gui.ShowMessage('Откройте заказ, затем нажмите «Карта по СМС».');
    exit;
  end;
  phone := gui.InputBox('Карта по СМС', 'Телефон гостя (79161234567)', '', true);
  if phone = '' then exit;

  status := CallSmsPds('/auth', 'phone=' + UrlEncode(phone) + '&channel=sms', answer);
  if KvValue(answer, 'status') <> 'ok' then
  begin
    ShowSmsPdsError(answer);
    exit;
  end;
  sessionId := KvValue(answer, 'sessionId');
  gui.ShowMessage('Код отправлен на ' + KvValue(answer, 'phone') + '.' + #13#10 +
    'Код действует до ' + KvValue(answer, 'expiresLocal') + '. Попыток: ' + KvValue(answer, 'attemptsLeft'));

  done := false;
  while not done do
  begin
    pin := gui.InputBox('Карта по СМС', 'Код из СМС (пусто — другие действия)', '', true);
    if pin = '' then
    begin
      choice := AskNoCodeAction('Отменить авторизацию гостя?');
      if choice = 1 then
      begin
        status := CallSmsPds('/auth/' + sessionId + '/resend', '', answer);
        if KvValue(answer, 'status') = 'ok' then
          gui.ShowMessage('Новый код отправлен на ' + KvValue(answer, 'phone') + '. Прежний код больше не действует.')
        else
          ShowSmsPdsError(answer);
      end
      else if choice = 2 then
      begin
        status := CallSmsPds('/auth/' + sessionId + '/cancel', 'reason=cashier', answer);
        done := true;
      end;
    end
    else
    begin
      status := CallSmsPds('/auth/' + sessionId + '/verify', 'pin=' + UrlEncode(pin), answer);
      if KvValue(answer, 'status') = 'ok' then
      begin
        ApplyCardToOrder(KvValue(answer, 'card'), KvValue(answer, 'holder'));
        done := true;
      end
      else
      begin
        ShowSmsPdsError(answer);
        action := KvValue(answer, 'code');
        { Неверный код: даём ввести ещё раз. Всё остальное завершает авторизацию. }
        if action <> 'PIN_INVALID' then done := true;
      end;
    end;
  end;
end;
